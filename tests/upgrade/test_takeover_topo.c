/* The run-time topology of an upgrade (T_TOPOLOGY, core/takeover_topo.c): an engine's
 * description formats back to text its parser reads as the same graph, a good topology
 * replaces the config's groups and engines, and a bad one (every truncation, bad counts,
 * names, lengths, groups, versions) is refused with the config left as it was. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "snap/element.h"
#include "core/takeover.h"
#include "core/takeover_int.h"

static const char *const BODY =
	"elements = ( { name = \"rx\"; type = \"port_rx\"; port = \"m0\"; },\n"
	"  { name = \"cnt\"; type = \"counter\"; note = \"a \\\"quoted\\\" \\\\ value\\n\"; n = 42; },\n"
	"  { name = \"tx\"; type = \"port_tx\"; port = \"m0\"; } );\n"
	"links = ( \"rx -> cnt\", \"cnt.out -> tx\" );";

static struct snap_engine_cfg ec, back;
static struct snap_config cfg;

static void same_engine(const struct snap_engine_cfg *a, const struct snap_engine_cfg *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->n_elems, b->n_elems);
	for (unsigned i = 0; i < a->n_elems; i++) {
		assert_string_equal(a->elems[i].name, b->elems[i].name);
		assert_string_equal(a->elems[i].type, b->elems[i].type);
		assert_int_equal(a->elems[i].n_kv, b->elems[i].n_kv);
		for (unsigned k = 0; k < a->elems[i].n_kv; k++) {
			assert_string_equal(a->elems[i].kv[k].key, b->elems[i].kv[k].key);
			assert_string_equal(a->elems[i].kv[k].val, b->elems[i].kv[k].val);
		}
	}
	assert_int_equal(a->n_links, b->n_links);
	for (unsigned i = 0; i < a->n_links; i++) {
		assert_string_equal(a->links[i].from, b->links[i].from);
		assert_string_equal(a->links[i].out, b->links[i].out);
		assert_string_equal(a->links[i].to, b->links[i].to);
	}
}

static void test_format_round_trip(void **st)
{
	char err[256], *txt = NULL;
	assert_int_equal(snap_config_parse_engine("e1", BODY, &ec, err, sizeof(err)), 0);
	assert_string_equal(ec.elems[1].kv[0].val, "a \"quoted\" \\ value\n");
	assert_int_equal(snap_config_format_engine(&ec, &txt), 0);
	assert_int_equal(snap_config_parse_engine("e1", txt, &back, err, sizeof(err)), 0);
	same_engine(&ec, &back);
	free(txt);
	(void)st;
}

/* A topology of one compacting group "rt" and engine e1 (BODY) in it. */
static void good_topology(struct snap_sbuf *b)
{
	char err[256], *txt = NULL;
	assert_int_equal(snap_config_parse_engine("e1", BODY, &ec, err, sizeof(err)), 0);
	assert_int_equal(snap_config_format_engine(&ec, &txt), 0);
	struct to_topo_hdr h = {.version = TO_TOPO_VERSION, .snap_log_level = RTE_LOG_NOTICE,
				.dpdk_log_level = RTE_LOG_WARNING, .n_groups = 1, .n_engines = 1};
	struct to_topo_group g = {.name = "rt", .mode = "compacting", .n_kv = 1};
	strcpy(g.kv[0].key, "max_threads");
	strcpy(g.kv[0].val, "2");
	struct to_topo_engine e = {.name = "e1", .group = "rt", .desc_len = (uint32_t)strlen(txt)};
	snap_sbuf_init(b);
	snap_sbuf_put(b, &h, sizeof(h));
	snap_sbuf_put(b, &g, sizeof(g));
	snap_sbuf_put(b, &e, sizeof(e));
	snap_sbuf_put(b, txt, strlen(txt));
	assert_int_equal(b->err, 0);
	free(txt);
}

#define OFF_GROUP sizeof(struct to_topo_hdr)
#define OFF_ENGINE (OFF_GROUP + sizeof(struct to_topo_group))

static void reset_cfg(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_engines = 7; /* a sentinel: a refused topology must leave it */
	strcpy(cfg.log_level, "info");
}

static void test_apply_good(void **st)
{
	struct snap_sbuf b;
	char err[256];
	good_topology(&b);
	reset_cfg();
	assert_int_equal(to_topo_apply(b.data, (uint32_t)b.len, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_groups, 1);
	assert_string_equal(cfg.groups[0].name, "rt");
	assert_string_equal(cfg.groups[0].mode, "compacting");
	assert_int_equal(cfg.n_engines, 1);
	assert_string_equal(cfg.engines[0].group, "rt");
	same_engine(&ec, &cfg.engines[0]);
	assert_string_equal(cfg.log_level, "notice");
	snap_sbuf_fini(&b);
	(void)st;
}

/* Apply b with one change made at off (size bytes of val), expect err. */
static void refused(const struct snap_sbuf *b, size_t off, const void *val, size_t size, int want)
{
	uint8_t *p = malloc(b->len);
	assert_non_null(p);
	memcpy(p, b->data, b->len);
	if (val)
		memcpy(p + off, val, size);
	char err[256] = "";
	reset_cfg();
	assert_int_equal(to_topo_apply(p, (uint32_t)b->len, &cfg, err, sizeof(err)), want);
	assert_int_equal(cfg.n_engines, 7);
	assert_true(err[0] != '\0');
	free(p);
}

static void test_apply_bad(void **st)
{
	struct snap_sbuf b;
	good_topology(&b);
	char err[256];
	/* Every truncation. */
	for (size_t n = 0; n < b.len; n++) {
		reset_cfg();
		int r = to_topo_apply(b.data, (uint32_t)n, &cfg, err, sizeof(err));
		assert_true(r == -EPROTO || r == -EINVAL);
		assert_int_equal(cfg.n_engines, 7);
	}
	uint32_t u;
	int32_t i32;
	u = TO_TOPO_VERSION + 1;
	refused(&b, offsetof(struct to_topo_hdr, version), &u, 4, -EPROTO);
	u = SNAP_CFG_GROUPS_MAX + 1;
	refused(&b, offsetof(struct to_topo_hdr, n_groups), &u, 4, -EPROTO);
	u = SNAP_CFG_ENGINES_MAX + 1;
	refused(&b, offsetof(struct to_topo_hdr, n_engines), &u, 4, -EPROTO);
	u = 0; /* one engine less: its bytes trail */
	refused(&b, offsetof(struct to_topo_hdr, n_engines), &u, 4, -EPROTO);
	i32 = 99;
	refused(&b, offsetof(struct to_topo_hdr, snap_log_level), &i32, 4, -EPROTO);
	char full[32];
	memset(full, 'x', sizeof(full)); /* no NUL inside the field */
	refused(&b, OFF_GROUP + offsetof(struct to_topo_group, name), full, 32, -EPROTO);
	refused(&b, OFF_ENGINE + offsetof(struct to_topo_engine, name), full, 32, -EPROTO);
	refused(&b, OFF_ENGINE + offsetof(struct to_topo_engine, group), "nope", 5, -EPROTO);
	refused(&b, OFF_GROUP + offsetof(struct to_topo_group, mode), "fastest", 8, -EINVAL);
	u = SNAP_CFG_KV_MAX + 1;
	refused(&b, OFF_GROUP + offsetof(struct to_topo_group, n_kv), &u, 4, -EPROTO);
	u = SNAP_CFG_CPUS_MAX + 1;
	refused(&b, OFF_GROUP + offsetof(struct to_topo_group, n_cpus), &u, 4, -EPROTO);
	refused(&b, OFF_GROUP + offsetof(struct to_topo_group, kv[0].key), "no_such", 8, -EINVAL);
	refused(&b, OFF_GROUP + offsetof(struct to_topo_group, kv[0].val), "-1", 3, -EINVAL);
	u = TO_TOPO_DESC_MAX + 1;
	refused(&b, OFF_ENGINE + offsetof(struct to_topo_engine, desc_len), &u, 4, -EPROTO);
	u = 0xffffffffu;
	refused(&b, OFF_ENGINE + offsetof(struct to_topo_engine, desc_len), &u, 4, -EPROTO);
	refused(&b, OFF_ENGINE + sizeof(struct to_topo_engine) + 3, "", 1, -EPROTO); /* a NUL */
	refused(&b, OFF_ENGINE + sizeof(struct to_topo_engine), "#", 1, -EINVAL); /* not config */
	refused(&b, OFF_ENGINE + offsetof(struct to_topo_engine, name), "bad name", 9, -EINVAL);
	snap_sbuf_fini(&b);
	(void)st;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_apply_good),
		cmocka_unit_test(test_apply_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
