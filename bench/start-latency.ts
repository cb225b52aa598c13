/**
 * Start latency per compute type on AWS. This machine cannot reach AWS, so these are figures from
 * documentation and public reports, labelled as such, not measurements; with them, the expected
 * webhook-to-first-command time of the sample pipeline (test -> image -> deploy) under `compute: auto`
 * (test on Lambda compute, image on EC2) and all-EC2.
 */
import { pathToFileURL } from 'node:url';

interface Source { what: string; seconds: [number, number]; source: string }

/** Provisioning before a build's first command, as reported (not measured here). */
export const START_LATENCY: Record<'lambda' | 'ec2' | 'fleet', Source> = {
  lambda: {
    what: 'CodeBuild on Lambda compute',
    // AWS states "lower start-up latency" and no queueing, without a figure; public write-ups of the
    // November 2023 launch report builds starting in a few seconds. We take 2-10 s.
    seconds: [2, 10],
    source: 'https://docs.aws.amazon.com/codebuild/latest/userguide/lambda.html ("optimized start-up speeds", "builds aren\'t waiting in queue"); public reports, not measured',
  },
  ec2: {
    what: 'CodeBuild on-demand EC2 (general1.small)',
    seconds: [90, 250],
    source: 'PROVISIONING phase reports in aws/aws-codebuild-docker-images issues #424, #526, #793 (as cited by issue 18), not measured',
  },
  fleet: {
    what: 'CodeBuild reserved-capacity fleet, a machine free',
    seconds: [1, 10],
    source: 'https://docs.aws.amazon.com/codebuild/latest/userguide/fleets.html (reserved capacity: instances kept ready, no provisioning); not measured',
  },
};

/** The local engine's own overhead per hop is sub-second; the containers are the cost. */
export function benchStartLatency(): void {
  console.log('\nStart latency on AWS (from documentation and public reports, NOT measured here: this machine cannot reach AWS):');
  for (const s of Object.values(START_LATENCY)) console.log(`  ${s.what.padEnd(46)} ${`${s.seconds[0]}-${s.seconds[1]} s`.padStart(9)}   source: ${s.source}`);
  const [l0, l1] = START_LATENCY.lambda.seconds;
  const [e0, e1] = START_LATENCY.ec2.seconds;
  // Webhook to the first command of the first job (test); the image job then waits one more start.
  console.log('  sample pipeline (test -> image -> deploy), webhook to the first command of `test`:');
  console.log(`    compute: auto  (test on Lambda, image on EC2)  ~${l0}-${l1} s to the first command; +${e0}-${e1} s more before the image job's first command`);
  console.log(`    all EC2                                        ~${e0}-${e1} s to the first command; +${e0}-${e1} s more before the image job's first command`);
  console.log(`    container start saved per pipeline run by auto: ~${e0 - l1}-${e1 - l0} s (one EC2 provisioning fewer)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) benchStartLatency();
