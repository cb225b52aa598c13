/**
 * The pipeline format's fixed values: defaults, duration limits and the patterns names and references must match.
 */
import {
  SOURCE_EVENTS, type NotificationEvent
} from '../pipeline.ts';

export const NOTIFICATION_EVENTS: readonly NotificationEvent[] = [
  'run_failed',
  'run_succeeded',
  'run_fixed',
  'approval_needed',
  'released',
  'rolled_back',
];
export const NOTIFICATION_KINDS = ['slack', 'teams', 'dingtalk', 'email'] as const;
export const CHAT_KINDS = new Set(['slack', 'teams', 'dingtalk']);
export const WHEN_EVENTS = [...SOURCE_EVENTS, 'manual', 'schedule'] as const;

export const DEFAULT_TIMEOUT_SECONDS = 60 * 60;
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 60 * 60;
export const DEFAULT_INTERVAL_SECONDS = 60;
export const DEFAULT_BAKE_SECONDS = 300;
export const DEFAULT_ROLLBACK_WINDOW_SECONDS = 60 * 60;
export const DEFAULT_STEPS = [10, 50, 100];
/** Before a build's first retry; each next one waits twice as long. */
export const DEFAULT_RETRY_DELAY_SECONDS = 10;

/** Duration limits, in seconds, with the words used in messages. */
export const LIMITS = {
  // CodeBuild accepts 5 to 2160 minutes per build.
  timeout: { min: 5 * 60, max: 36 * 3600, text: 'between 5m and 36h (the limits of CodeBuild)' },
  approval: { min: 60, max: 7 * 86400, text: 'between 1m and 7d' },
  interval: { min: 1, max: 3600, text: 'between 1s and 1h' },
  bake: { min: 0, max: 24 * 3600, text: 'between 0s and 24h' },
  rollbackWindow: { min: 0, max: 24 * 3600, text: 'between 0s and 24h' },
  retryDelay: { min: 0, max: 3600, text: 'between 0s and 1h' },
  healthCheckWindow: { min: 0, max: 30 * 60, text: 'between 0s and 30m' },
} as const;

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const REPO_SEGMENT = '[A-Za-z0-9_.-]+';
export const TWO_PART_REPO = new RegExp(`^${REPO_SEGMENT}/${REPO_SEGMENT}$`);
export const GITLAB_REPO = new RegExp(`^${REPO_SEGMENT}(/${REPO_SEGMENT})+$`);
export const ECR_REPOSITORY = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// AWS CodeConnections (and its former name, CodeStar Connections) connection ARNs.
export const CONNECTION_ARN = /^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[A-Za-z0-9-]+$/;
export const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
export const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
export const DURATION_HINT = 'use a number of seconds or a string like "30s", "5m", "1h" or "1h30m"';
