/**
 * The local mode's artifacts on disk: fauxqs keeps S3 in memory, so the bucket is copied to the data folder when the local mode stops and back when it starts.
 */
import { existsSync,mkdirSync,readdirSync,readFileSync,writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand,ListObjectsV2Command,PutObjectCommand,type S3Client } from '@aws-sdk/client-s3';

/** Copies every object of the bucket to `dir` (key = relative path). */
export async function saveArtifacts(s3: S3Client, bucket: string, dir: string): Promise<number> {
  let token: string | undefined;
  let n = 0;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const file = path.join(dir, o.Key!);
      if (!file.startsWith(dir + path.sep)) continue; // a key that would leave the folder
      if (existsSync(file)) continue; // artifacts are write-once: runs/<runId>/<job>/...
      const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, await obj.Body!.transformToByteArray());
      n += 1;
    }
    token = page.NextContinuationToken;
  } while (token);
  return n;
}

/** Puts every file under `dir` back into the bucket. */
export async function restoreArtifacts(s3: S3Client, bucket: string, dir: string): Promise<number> {
  if (!existsSync(dir)) return 0;
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  for (const f of files) {
    const file = path.join(f.parentPath ?? (f as unknown as { path: string }).path, f.name);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: path.relative(dir, file).split(path.sep).join('/'), Body: readFileSync(file) }));
  }
  return files.length;
}
