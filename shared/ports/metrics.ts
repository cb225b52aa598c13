/** The engine's metric names and where metrics go (CloudWatch embedded metric format in Lambda). */

/** CloudWatch namespace of every Slipway metric. */
export const METRICS_NAMESPACE = 'Slipway';

/** The one dimension every Slipway metric carries (Powertools' `service`), so infra can name the metrics exactly. */
export const METRICS_SERVICE = 'slipway';

export const METRIC = {
  runsStarted: 'RunsStarted',
  runsSucceeded: 'RunsSucceeded',
  runsFailed: 'RunsFailed',
  /** Milliseconds from the webhook (the run request) to the first build of the run starting. */
  webhookToBuildStart: 'WebhookToBuildStart',
  /** Seconds a build ran, from CodeBuild's phases. */
  buildDuration: 'BuildDuration',
  /** Seconds from a release taking the target to its end. */
  releaseDuration: 'ReleaseDuration',
  /** Releases that put the traffic back (automatic or asked for). */
  rollbacks: 'Rollbacks',
  /** Jobs the reconciler moved to their true state (a lost build event, a build that never started). */
  reconciledJobs: 'ReconciledJobs',
  /** Deploy jobs past their timeout; the releaser owns them, the reconciler only reports them. */
  stuckReleases: 'StuckReleases',
  /** Runs the reconciler started for watched heads no webhook started (services/push-recovery.ts). */
  missedWebhooksRecovered: 'MissedWebhooksRecovered',
  /** Seconds from a recovered head's commit to its recovery (an upper bound of the push's delay). */
  recoveryDelay: 'RecoveryDelay',
  /** Hooks the git host reports failing or disabled (GitHub hook deliveries, GitLab alert_status). */
  webhookProblems: 'WebhookProblems',
  /** Builds started, per compute (the metric carries only the service dimension, so one name each). */
  buildsOnLambda: 'BuildsStartedLambda',
  buildsOnEc2: 'BuildsStartedEc2',
  buildsOnFleet: 'BuildsStartedFleet',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
export type MetricUnit = 'Count' | 'Milliseconds' | 'Seconds';

export interface MetricDatum {
  name: MetricName;
  unit: MetricUnit;
  value: number;
}

/** Where metrics go: Powertools Metrics in Lambda, nowhere (or an array) in the local mode and tests. */
export interface MetricsSink {
  add(datum: MetricDatum): void;
}
