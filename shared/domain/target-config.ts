/** What makes a release target's configuration valid, checked before it is stored. */
import { ValidationError, type Problem } from './errors.ts';
import { HEALTH_CHECK_FUNCTION_ARN, type TargetConfig } from './release.ts';
import { COLOURS } from './traffic.ts';
import { TARGET_NAME, isValidName, nameMessage } from './names.ts';



/** Checks a target before it is stored, naming every problem. */
export function validateTargetConfig(c: TargetConfig): void {
  const problems: Problem[] = [];
  const str = (path: string, v: unknown) => {
    if (typeof v !== 'string' || v.trim() === '') problems.push({ path, message: 'required' });
  };
  if (!isValidName(TARGET_NAME, c.name)) problems.push({ path: 'name', message: nameMessage(TARGET_NAME) });
  str('cluster', c.cluster);
  for (const colour of COLOURS) {
    str(`services.${colour}`, c.services?.[colour]);
    str(`targetGroups.${colour}`, c.targetGroups?.[colour]);
  }
  if (c.services && c.services.blue === c.services.green) problems.push({ path: 'services', message: 'blue and green must be different services' });
  if (c.targetGroups && c.targetGroups.blue === c.targetGroups.green) problems.push({ path: 'targetGroups', message: 'blue and green must be different target groups' });
  str('listenerRuleArn', c.listenerRuleArn);
  if (c.testListenerRuleArn !== undefined) str('testListenerRuleArn', c.testListenerRuleArn);
  if (c.testUrl !== undefined && !/^https?:\/\/\S+$/.test(c.testUrl)) problems.push({ path: 'testUrl', message: 'an http(s) URL' });
  if (c.healthCheckFunction !== undefined && !HEALTH_CHECK_FUNCTION_ARN.test(c.healthCheckFunction)) {
    problems.push({ path: 'healthCheckFunction', message: 'the ARN of the target\'s health checker function (SlipwayReleaseTarget output HealthCheckFunctionArn)' });
  }
  if (!Number.isInteger(c.desiredCount) || c.desiredCount < 1) problems.push({ path: 'desiredCount', message: `a whole number of tasks, at least 1, got ${c.desiredCount}` });
  if (c.liveColour !== undefined && !COLOURS.includes(c.liveColour)) problems.push({ path: 'liveColour', message: 'blue or green' });
  for (const [k, v] of Object.entries(c.timing ?? {})) {
    if (typeof v !== 'number' || !(v > 0)) problems.push({ path: `timing.${k}`, message: 'a positive number of seconds' });
  }
  if (problems.length > 0) throw new ValidationError(`invalid target ${c.name}`, problems);
}
