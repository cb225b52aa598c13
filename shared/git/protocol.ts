/** The webhook protocol of the three git hosts, as the webhook service's port wants it. */
import type { WebhookProtocol } from '../ports/git-hosts.ts';
import { readCredential, SIGNATURE_HEADER, verifyCredential } from './signatures.ts';
import { DELIVERY_HEADER, deliveryIdOf, normalise, repositoryOf } from './source-event.ts';

export const gitWebhooks: WebhookProtocol = {
  signatureHeader: (provider) => SIGNATURE_HEADER[provider],
  readCredential,
  verifyCredential,
  repositoryOf,
  deliveryHeader: (provider) => DELIVERY_HEADER[provider],
  deliveryIdOf,
  normalise,
};
