/** E-mail through SNS, with aws-sdk-client-mock standing in for SNS. */
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { NotificationFailed } from '../../shared/domain/run-events.ts';
import { emailSubject } from '../../shared/notify/email.ts';
import { handleNotification } from '../../shared/notify/notifier.ts';
import { notificationMessage, notifySetup } from '../support/notify-fixtures.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:web-team';
const sns = mockClient(SNSClient);
beforeEach(() => sns.reset());

function setup() {
  return notifySetup({
    notifications: [{ kind: 'email', topicArn: TOPIC, on: ['run_failed', 'rolled_back'] }],
    deps: { sns: new SNSClient({ region: 'eu-west-1' }), publicApiUrl: 'https://api.example.com' },
  });
}

test('a failed run publishes one e-mail to the pipeline topic: subject, reason, commit and link', async () => {
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  const { deps } = setup();
  const out = await handleNotification(deps, notificationMessage());
  assert.deepEqual(out.delivered, [`email (SNS topic ${TOPIC})`]);
  const calls = sns.commandCalls(PublishCommand);
  assert.equal(calls.length, 1);
  const input = calls[0].args[0].input;
  assert.equal(input.TopicArn, TOPIC);
  assert.equal(input.Subject, 'Slipway: Run failed: web on main');
  assert.equal(input.Message, [
    'Run failed: web on main',
    '',
    'job "test" failed: build failed',
    'Commit 0123456789ab: Fix the login page (ada)',
    'Repository acme/web on github',
    'Took 2m 05s',
    'Run R1',
    '',
    'https://api.example.com/runs/R1',
  ].join('\n'));
});

test('a topic that does not exist is reported on the run without retrying', async () => {
  sns.on(PublishCommand).rejects(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException', $fault: 'client' }));
  const { deps, events, queue } = setup();
  await handleNotification(deps, notificationMessage());
  assert.equal(sns.commandCalls(PublishCommand).length, 1);
  assert.equal(queue.sent.length, 0);
  assert.match((events.sent[0] as NotificationFailed).message, /email \(SNS topic .*\): refused: NotFoundException Topic does not exist/);
});

test('throttling is retried, quickly and then through the queue', async () => {
  sns.on(PublishCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException', $fault: 'client' })).resolves({ MessageId: 'm-2' });
  const { deps, events, queue } = setup();
  const out = await handleNotification(deps, notificationMessage({ kind: 'rolled_back', id: 'R1:rolled_back:deploy', job: 'deploy' }));
  assert.equal(out.delivered.length, 1);
  assert.equal(sns.commandCalls(PublishCommand).length, 2);
  assert.equal(sns.commandCalls(PublishCommand)[1].args[0].input.Subject, 'Slipway: Rolled back: web job "deploy" on main');
  assert.equal(events.sent.length + queue.sent.length, 0);
});

test('subjects are single-line ASCII under 100 characters, as SNS requires', () => {
  const s = emailSubject(`Run failed: ${'pipeline-'.repeat(20)} on feature/ünïcode\nsecond line`);
  assert.ok(s.length < 100);
  assert.match(s, /^[\x20-\x7e]+$/);
});
