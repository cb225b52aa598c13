/**
 * The in-memory fakes pass the same contract suites as the DynamoDB adapters
 * (test/integration/*-store.test.ts), so what a unit test shows with them holds
 * on the real table.
 */
import { deliveryStoreContract } from '../support/contracts/delivery-store.contract.ts';
import { pipelineStoreContract } from '../support/contracts/pipeline-store.contract.ts';
import { runStoreContract } from '../support/contracts/run-store.contract.ts';
import { targetStoreContract } from '../support/contracts/target-store.contract.ts';
import { MemoryDeliveryStore, MemoryPipelineStore, MemoryRunStore, MemoryTargetStore } from '../support/memory-stores.ts';

pipelineStoreContract('MemoryPipelineStore', () => new MemoryPipelineStore(() => new Date()));
runStoreContract('MemoryRunStore', () => new MemoryRunStore());
deliveryStoreContract('MemoryDeliveryStore', (opts = {}) => new MemoryDeliveryStore(opts.now));
targetStoreContract('MemoryTargetStore', () => new MemoryTargetStore());
