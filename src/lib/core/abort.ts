// Work that runs many units at once (apps, days, objects, checks) gives each unit a signal of
// its own. A branch aborts with the run's signal, reason and all, but adds no listener to it:
// Node links the two by weak reference. So however many requests are in flight, the run's
// signal holds no listeners and Node never warns about a leak that is not one; a branch whose
// listeners are removed (the SDK removes its own when a request ends) is collected.

/** A signal that aborts when `signal` does, for one unit of work. */
export function branch(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal]);
}
