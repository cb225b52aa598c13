/** Constructs for a team's own CDK app. */
export { Slipway, type SlipwayProps, SECRET_NAME_PREFIX } from './constructs/slipway.ts';
export { SlipwayReleaseTarget, type SlipwayReleaseTargetProps } from './constructs/release-target.ts';
export { type ReleaseScope, TARGET_TAG } from './constructs/releases.ts';
export { type ComputeClass, COMPUTE_TYPES } from './constructs/builds.ts';
export { SlipwayStack, type SlipwayStackProps } from './slipway-stack.ts';
