/*
 * place/place.h - placement: a pure function of the host model and the
 * request (gp_place(), public in gpupool.h), and the fair request queue
 * (queue.c: gp_usage_decayed(), gp_queue_order(), gp_queue_next()).
 * Depends on core only.  Not installed.
 */
#ifndef GPUPOOL_PLACE_H
#define GPUPOOL_PLACE_H

#include "core/core.h"

#endif /* GPUPOOL_PLACE_H */
