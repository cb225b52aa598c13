/**
 * Build logs from CloudWatch Logs. CodeBuild writes each build to the stream
 * named after the build id's uuid (`project:uuid` -> `uuid`, behind an optional
 * stream-name prefix) in the builds' log group. Pages go forward from the start;
 * the cursor is CloudWatch's `nextForwardToken`, passed through untouched.
 */
import { GetLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ValidationError } from '../domain/errors.ts';
import { classify, toDomainError } from './errors.ts';
import type { LogPage, LogReader } from '../ports/reads.ts';

export interface CloudWatchLogReaderOptions {
  /** The log group the CodeBuild projects write to (SLIPWAY_BUILD_LOG_GROUP). */
  logGroupName: string;
  /** Stream name prefix, when the projects set `logsConfig.cloudWatchLogs.streamName`. @default none */
  streamPrefix?: string;
  /** Lines per page when the caller gives no limit. @default 500 */
  defaultLimit?: number;
}

export class CloudWatchLogReader implements LogReader {
  constructor(private readonly logs: CloudWatchLogsClient, private readonly opts: CloudWatchLogReaderOptions) {}

  /** The stream a CodeBuild build writes to. */
  streamName(buildId: string): string {
    const uuid = buildId.slice(buildId.lastIndexOf(':') + 1);
    return this.opts.streamPrefix ? `${this.opts.streamPrefix.replace(/\/+$/, '')}/${uuid}` : uuid;
  }

  async read(buildId: string, opts: { cursor?: string; limit?: number } = {}): Promise<LogPage> {
    try {
      const out = await this.logs.send(
        new GetLogEventsCommand({
          logGroupName: this.opts.logGroupName,
          logStreamName: this.streamName(buildId),
          startFromHead: true,
          limit: opts.limit ?? this.opts.defaultLimit ?? 500,
          ...(opts.cursor ? { nextToken: opts.cursor } : {}),
        }),
      );
      const events = (out.events ?? []).map((e) => ({
        timestamp: new Date(e.timestamp ?? 0).toISOString(),
        message: (e.message ?? '').replace(/\r?\n$/, ''),
      }));
      return { events, ...(out.nextForwardToken ? { cursor: out.nextForwardToken } : {}) };
    } catch (err) {
      const kind = classify(err);
      // The build has not written anything yet: no stream, nothing to show, and nothing to resume from.
      if (kind === 'not-found') return { events: [], ...(opts.cursor ? { cursor: opts.cursor } : {}) };
      // The only parameter a caller chooses is the cursor.
      if (kind === 'invalid' && (err as { name?: string }).name === 'InvalidParameterException') {
        throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'not a cursor this log returned; start again without one' }]);
      }
      throw toDomainError(err, 'reading the build log');
    }
  }
}
