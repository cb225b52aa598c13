#!/usr/bin/env node
/**
 * The CDK app `npx cdk deploy` runs (cdk.json). Settings come from context (cdk.json, or
 * `-c slipway:<name>=<value>`); every one has a default. No lookups: the stack is
 * environment-agnostic and synthesizes offline.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { consoleConfigFromContext, engineConfigFromContext } from '../config.ts';
import { SlipwayStack } from '../slipway-stack.ts';

const app = new App();
new SlipwayStack(app, app.node.tryGetContext('slipway:stackName') ?? 'Slipway', {
  description: 'Slipway: serverless continuous delivery (webhooks, CodeBuild jobs, blue-green ECS releases)',
  engine: engineConfigFromContext((key) => app.node.tryGetContext(key)),
  console: consoleConfigFromContext((key) => app.node.tryGetContext(key)),
});
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
