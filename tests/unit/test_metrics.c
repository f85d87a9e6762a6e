/* test_metrics.c — http/metrics.c: the Prometheus text. */
#include "unit.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test(metrics, counts_by_route_and_status) {
  metrics_observe("/v1/things", 200, 3.0);
  metrics_observe("/v1/things", 200, 30.0);
  metrics_observe("/v1/things", 404, 1.0);
  char *text = metrics_render();
  cr_assert_not_null(strstr(text, "route=\"/v1/things\",status=\"200\"} 2"), "%s", text);
  cr_assert_not_null(strstr(text, "route=\"/v1/things\",status=\"404\"} 1"), "%s", text);
  free(text);
}
