/**
 * Chat notifications at the HTTP boundary: Slack-compatible JSON, DingTalk's
 * signed robot URL and its errcode answers, a Teams Adaptive Card; which channel
 * hears which event, run_fixed included.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { NotificationSpec } from '../../shared/domain/pipeline.ts';
import type { NotificationFailed } from '../../shared/domain/run-events.ts';
import { parseWebhookSecret, signDingTalkUrl } from '../../shared/notify/chat.ts';
import { handleNotification } from '../../shared/notify/notifier.ts';
import { startHttpStub, type HttpStub } from '../support/http-stub.ts';
import { finishedRun, notificationMessage, notifySetup } from '../support/notify-fixtures.ts';

let chat: HttpStub;
before(async () => { chat = await startHttpStub(); });
after(() => chat.close());
beforeEach(() => { chat.requests.length = 0; chat.answer({ status: 200, body: 'ok' }); });

function setup(notifications: NotificationSpec[], secrets: Record<string, string> = {}) {
  return notifySetup({
    notifications,
    secrets: { 'slipway/web/slack': `${chat.url}/services/T1/B1/abc`, 'slipway/web/teams': `${chat.url}/workflows/run?sig=s3cret`, ...secrets },
    deps: { publicApiUrl: 'https://api.example.com', clock: () => 1700000000000 },
  });
}

test('Slack: text and blocks with the title, the reason, the commit and a button to the run', async () => {
  const { deps } = setup([{ kind: 'slack', secret: 'slipway/web/slack', on: ['run_failed'] }]);
  await handleNotification(deps, notificationMessage());
  assert.equal(chat.requests.length, 1);
  const [req] = chat.requests;
  assert.equal(req.url, '/services/T1/B1/abc');
  assert.match(req.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(req.json.text, ':x: Run failed: web on main <https://api.example.com/runs/R1|open the run>');
  assert.deepEqual(req.json.blocks[0], { type: 'section', text: { type: 'mrkdwn', text: '*:x: Run failed: web on main*' } });
  assert.equal(req.json.blocks[1].text.text, 'job "test" failed: build failed\nCommit 0123456789ab: Fix the login page (ada)\nRepository acme/web on github\nTook 2m 05s\nRun R1');
  assert.deepEqual(req.json.blocks[2], { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open the run' }, url: 'https://api.example.com/runs/R1' }] });
});

test('DingTalk: a signed robot URL (timestamp and url-encoded HMAC-SHA256 sign) and a markdown message', async () => {
  const signing = 'SECabc+/=def';
  const { deps } = setup([{ kind: 'dingtalk', secret: 'slipway/web/ding', on: ['run_failed'] }], {
    'slipway/web/ding': JSON.stringify({ url: `${chat.url}/robot/send?access_token=tok`, signingSecret: signing }),
  });
  chat.answer({ status: 200, body: { errcode: 0, errmsg: 'ok' } });
  await handleNotification(deps, notificationMessage());
  const [req] = chat.requests;
  const expected = createHmac('sha256', signing).update(`1700000000000\n${signing}`).digest('base64');
  const url = new URL(req.url, chat.url);
  assert.equal(url.pathname, '/robot/send');
  assert.equal(url.searchParams.get('access_token'), 'tok');
  assert.equal(url.searchParams.get('timestamp'), '1700000000000');
  assert.equal(url.searchParams.get('sign'), expected);
  assert.ok(req.url.includes(`sign=${encodeURIComponent(expected)}`), 'the sign is url-encoded');
  assert.equal(req.json.msgtype, 'markdown');
  assert.equal(req.json.markdown.title, 'Run failed: web on main');
  assert.match(req.json.markdown.text, /^### Run failed: web on main\n\n- job "test" failed: build failed\n\n/);
  assert.match(req.json.markdown.text, /\[Open the run\]\(https:\/\/api\.example\.com\/runs\/R1\)$/);
});

test('a webhook secret may be a bare URL (trimmed); the signature is appended to the query it already has', () => {
  assert.equal(signDingTalkUrl('https://oapi.dingtalk.com/robot/send?access_token=x', 's', 1).startsWith('https://oapi.dingtalk.com/robot/send?access_token=x&timestamp=1&sign='), true);
  assert.deepEqual(parseWebhookSecret(' https://oapi.dingtalk.com/robot/send?access_token=x\n', 'n'), { url: 'https://oapi.dingtalk.com/robot/send?access_token=x' });
});

test('DingTalk: an HTTP 200 with a non-zero errcode is a refusal reported on the run; 130101 (too fast) is retried', async () => {
  const { deps, events, queue } = setup([{ kind: 'dingtalk', secret: 'slipway/web/ding', on: ['run_failed'] }], { 'slipway/web/ding': `${chat.url}/robot/send?access_token=tok` });
  chat.answer({ status: 200, body: { errcode: 310000, errmsg: 'sign not match' } });
  await handleNotification(deps, notificationMessage());
  assert.equal(chat.requests.length, 1);
  assert.match((events.sent[0] as NotificationFailed).message, /refused the message: errcode 310000 \(sign not match\)/);

  chat.requests.length = 0;
  chat.answer({ status: 200, body: { errcode: 130101, errmsg: 'send too fast' } });
  await handleNotification(deps, notificationMessage());
  assert.equal(chat.requests.length, 3);
  assert.equal(queue.sent.length, 1);
});

test('Teams: one message with an Adaptive Card attachment, coloured by outcome, with an Open URL action', async () => {
  const { deps } = setup([{ kind: 'teams', secret: 'slipway/web/teams', on: ['released'] }]);
  await handleNotification(deps, notificationMessage({ kind: 'released', id: 'R1:released:deploy', job: 'deploy', status: 'running' }));
  const [req] = chat.requests;
  assert.equal(req.url, '/workflows/run?sig=s3cret');
  assert.equal(req.json.type, 'message');
  assert.equal(req.json.attachments.length, 1);
  const { contentType, content } = req.json.attachments[0];
  assert.equal(contentType, 'application/vnd.microsoft.card.adaptive');
  assert.equal(content.type, 'AdaptiveCard');
  assert.equal(content.version, '1.4');
  assert.deepEqual(content.body[0], { type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: 'Released: web job "deploy" on main', weight: 'Bolder', size: 'Medium', color: 'Good' }] });
  assert.deepEqual(content.actions, [{ type: 'Action.OpenUrl', title: 'Open the run', url: 'https://api.example.com/runs/R1' }]);
});

test('each channel hears only the events it subscribed to', async () => {
  const { deps } = setup([
    { kind: 'slack', secret: 'slipway/web/slack', on: ['run_succeeded'] },
    { kind: 'teams', secret: 'slipway/web/teams', on: ['approval_needed', 'rolled_back'] },
  ]);
  await handleNotification(deps, notificationMessage({ kind: 'run_failed' }));
  assert.equal(chat.requests.length, 0);
  await handleNotification(deps, notificationMessage({ kind: 'approval_needed', id: 'R1:approval_needed:approve', job: 'approve', status: 'running' }));
  await handleNotification(deps, notificationMessage({ kind: 'run_started', id: 'R1:run_started', status: 'running' }));
  assert.deepEqual(chat.requests.map((r) => r.url), ['/workflows/run?sig=s3cret']);
  assert.equal(chat.requests[0].json.attachments[0].content.body[0].inlines[0].text, 'Approval needed: web job "approve" on main');
});

test('run_fixed: a success after a failed run on the same branch says "Fixed" to run_fixed subscribers', async () => {
  const { deps, runs } = setup([
    { kind: 'slack', secret: 'slipway/web/slack', on: ['run_fixed'] },
    { kind: 'teams', secret: 'slipway/web/teams', on: ['run_succeeded'] },
  ]);
  await runs.create(finishedRun('R0', 'failed'));
  await runs.create(finishedRun('R0b', 'cancelled'));
  await runs.create(finishedRun('R0c', 'succeeded', 'feature'));
  await handleNotification(deps, notificationMessage({ runId: 'R1', kind: 'run_succeeded', id: 'R1:run_succeeded', status: 'succeeded' }));
  const slack = chat.requests.find((r) => r.url.startsWith('/services'));
  const teams = chat.requests.find((r) => r.url.startsWith('/workflows'));
  assert.equal(slack?.json.blocks[0].text.text, '*:white_check_mark: Fixed: web on main succeeds again*');
  assert.equal(teams?.json.attachments[0].content.body[0].inlines[0].text, 'Run succeeded: web on main');
});

test('run_fixed: a success after a success is no fix, and run_fixed-only channels hear nothing', async () => {
  const { deps, runs } = setup([{ kind: 'slack', secret: 'slipway/web/slack', on: ['run_fixed'] }]);
  await runs.create(finishedRun('R0', 'failed'));
  await runs.create(finishedRun('R1', 'succeeded'));
  await handleNotification(deps, notificationMessage({ runId: 'R2', kind: 'run_succeeded', id: 'R2:run_succeeded', status: 'succeeded' }));
  assert.equal(chat.requests.length, 0);
  await handleNotification(deps, notificationMessage({ runId: 'R0x', kind: 'run_succeeded', id: 'R0x:run_succeeded', status: 'succeeded' }));
  assert.equal(chat.requests.length, 1, 'the run right after the failed R0 is a fix');
});

test('a secret that holds no URL is a permanent failure, named but not shown', async () => {
  const { deps, events } = setup([{ kind: 'slack', secret: 'slipway/web/slack', on: ['run_failed'] }], { 'slipway/web/slack': 'xoxb-not-a-url' });
  await handleNotification(deps, notificationMessage());
  assert.equal(chat.requests.length, 0);
  const failed = events.sent[0] as NotificationFailed;
  assert.match(failed.message, /secret "slipway\/web\/slack" holds no http\(s\) webhook URL/);
  assert.doesNotMatch(JSON.stringify(failed), /xoxb/);
});
