// What the analysis tells its sinks, as it happens: a fault ended (with all
// its stage times and the moment it was resolved), a uffd's mode changed, a
// uffd was created or closed, an ioctl completed. Sinks (the Perfetto writer)
// draw these instead of re-deriving them from the model's state. The
// registry's own results (RegistryResult) are typed in uffdTypes.ts.

import type { FaultLifecycle } from './faultLifecycle.js';
import type { FaultRecord } from './faultTypes.js';
import type { UffdRegistry } from './uffdRegistry.js';
import type { RegistryResult, UffdInfo } from './uffdTypes.js';

export type AnalysisResult = { type: 'fault_ended'; record: FaultRecord; /** its uffd when it faulted */ uffd: UffdInfo | undefined } | RegistryResult;

export type ResultListener = (r: AnalysisResult) => void;

/** Calls `fn` with every result of an analysis's model, in the order they happen; returns an unsubscribe function. */
export function onResults(model: { lifecycle: FaultLifecycle; registry: UffdRegistry }, fn: ResultListener): () => void {
  const { lifecycle, registry } = model;
  const offFaults = lifecycle.onRecord((record) => fn({ type: 'fault_ended', record, uffd: registry.lifetimeAt(record.uffd, record.faultTs) }));
  const offRegistry = registry.onResult(fn);
  return () => {
    offFaults();
    offRegistry();
  };
}
