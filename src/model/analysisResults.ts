// What the analysis tells its sinks, as it happens: a fault ended (with all
// its stage times and the moment it was resolved), a uffd's mode changed, a
// uffd was created or closed, an ioctl completed. Sinks (the Perfetto writer)
// draw these instead of re-deriving them from the model's state.

import type { IoctlArgs, IoctlEvent, UffdCloseEvent, UffdCreateEvent } from '../events/types.js';
import type { FaultLifecycle } from './faultLifecycle.js';
import type { FaultRecord } from './faultTypes.js';
import type { ModeChange, SetModeAttempt, UffdInfo, UffdRegistry } from './uffdRegistry.js';

/** What the registry reports (uffdRegistry.ts). */
export type RegistryResult =
  | { type: 'mode_changed'; uffd: UffdInfo; change: ModeChange }
  | { type: 'uffd_created'; uffd: UffdInfo; /** the earlier uffd at the same address */ replaced: UffdInfo | undefined; event: UffdCreateEvent }
  | { type: 'uffd_closed'; uffd: UffdInfo; event: UffdCloseEvent }
  | {
      type: 'ioctl_completed';
      exit: IoctlEvent;
      /** the exit's arguments, else the entry's for control ioctls (null: unreadable) */
      args: IoctlArgs | null;
      /** the uffd it was issued on (at its entry); undefined when not tracked */
      uffd: UffdInfo | undefined;
      /** UFFDIO_SET_MODE: the attempt, with its result, drain and wake-up */
      setMode: SetModeAttempt | undefined;
    };

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
