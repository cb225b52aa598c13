#!/usr/bin/env node
/**
 * The CDK app `npx cdk deploy` runs (cdk.json). Settings come from context (cdk.json, or
 * `-c slipway:<name>=<value>`); every one has a default. No lookups: the stack is
 * environment-agnostic and synthesizes offline.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext, ContextError } from '../config.ts';
import { SlipwayStack } from '../slipway-stack.ts';

const app = new App();
let config: ReturnType<typeof configFromContext>;
try {
  config = configFromContext((key) => app.node.tryGetContext(key));
} catch (e) {
  // Bad settings are the deployer's to fix: every one of them, without a stack trace.
  if (!(e instanceof ContextError)) throw e;
  console.error(e.message);
  process.exit(1);
}
new SlipwayStack(app, app.node.tryGetContext('slipway:stackName') ?? 'Slipway', {
  description: 'Slipway: serverless continuous delivery (webhooks, CodeBuild jobs, blue-green ECS releases)',
  engine: config.engine,
  console: config.console,
});
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
