/*
 * place/place.h - placement: a pure function of the host model and the
 * request (gp_place(), public in gpupool.h).  Depends on core only.  Not
 * installed.
 */
#ifndef GPUPOOL_PLACE_H
#define GPUPOOL_PLACE_H

#include "core/core.h"

#endif /* GPUPOOL_PLACE_H */
