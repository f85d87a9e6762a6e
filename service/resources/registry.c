/* registry.c — the list of route tables the server serves. */
#include "resources/resources.h"

const struct route_table *const ALL_ROUTES[] = {
    &SERVICE_ROUTES, &TOKEN_ROUTES, &USER_ROUTES, &CLIENT_ROUTES, &ME_ROUTES, &CHANGE_ROUTES, NULL};
