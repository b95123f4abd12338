/* ONNX reader at the protobuf wire level, model side: the model, its graphs (and those of
 * functions and training), nodes and attributes, consumers, metadata, the skeleton section
 * and the entry point (onnx.h, docs/onnx.md). Field numbers are those of onnx.proto (onnx
 * 1.12 as shipped by Debian 12, checked against upstream, which later versions only extend). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_int.h"

/* ---- nodes, attributes, graphs --------------------------------------------------------------- */

/* "('name')" after a node or function in a path, when it has a name. */
static void ox_path_name(ox *x, ox_span name) {
  if (name.n == 0) return;
  ox_tput(&x->path, "('", 2);
  ox_escape(&x->path, name.p, name.n, 64);
  ox_tput(&x->path, "')", 2);
}

typedef struct ox_node { /* what an attribute needs to know about its node */
  uint32_t graph;
  ox_span op, domain, name, out0;
  int nout, is_constant;
  uint64_t nattr;
} ox_node;

static int ox_node_field(ox *x, const pb_field *f, void *st) {
  ox_node *nd = st;
  ox_span sp = {x->src + f->pos, f->end - f->pos};
  if (f->num == 2 && nd->nout++ == 0) nd->out0 = sp;
  if (f->num == 3) nd->name = sp;
  if (f->num == 4) nd->op = sp;
  if (f->num == 7) nd->domain = sp;
  return 0;
}

static const ox_rule ox_node_rules[] = {{2, PB_LEN, ox_node_field},
                                        {3, PB_LEN, ox_node_field},
                                        {4, PB_LEN, ox_node_field},
                                        {7, PB_LEN, ox_node_field},
                                        {0, 0, NULL}};

typedef struct ox_attr {
  const ox_node *node;
  ox_span name;
  uint64_t ntensors, ngraphs;
} ox_attr;

static int ox_graph(ox *x, const pb_field *f, uint32_t node_field);

static ox_site ox_attr_site(const ox_attr *a) {
  ox_site s;
  memset(&s, 0, sizeof(s));
  s.graph = a->node->graph;
  if (a->node->is_constant) { /* named after, and consumed as, the Constant's output */
    s.name = s.key = a->node->out0.p;
    s.name_len = s.key_len = a->node->out0.n;
  } else { /* an attribute of the node that uses it */
    s.op = a->node->op.p;
    s.op_len = a->node->op.n;
  }
  return s;
}

static int ox_attr_tensor(ox *x, const pb_field *f, void *st) {
  ox_attr *a = st;
  size_t mark = ox_path_mark(x);
  if (f->num == 10) ox_printf(&x->path, ".tensors[%llu]", (unsigned long long)a->ntensors++);
  ox_site s = ox_attr_site(a);
  if (f->num == 10 || !a->node->is_constant || !ox_span_is(a->name.p, a->name.n, "value"))
    s.name = NULL;
  int rc = ox_tensor(x, f, &s);
  ox_path_reset(x, mark);
  return rc;
}

static int ox_attr_graph(ox *x, const pb_field *f, void *st) {
  ox_attr *a = st;
  size_t mark = ox_path_mark(x);
  if (f->num == 11)
    ox_printf(&x->path, ".graphs[%llu]", (unsigned long long)a->ngraphs++);
  else
    ox_tput(&x->path, ".g", 2);
  int rc = ox_graph(x, f, 1);
  ox_path_reset(x, mark);
  return rc;
}

static int ox_attr_sparse(ox *x, const pb_field *f, void *st) {
  (void)f, (void)st;
  ox_keep(x, "sparse tensor");
  return 0;
}

static int ox_attr_name(ox *x, const pb_field *f, void *st) {
  ((ox_attr *)st)->name = (ox_span){x->src + f->pos, f->end - f->pos};
  return 0;
}

/* Constant's value_float(s) / value_int(s): AttributeProto.f (2), floats (7), i (3), ints (8). */
static int ox_attr_scalars(ox *x, const pb_field *f, const ox_attr *a) {
  static const struct {
    const char *name;
    ox_data d;
    int dtype;
    unsigned ndim;
  } forms[] = {{"value_float", {2, 1, {4, 0}, 1}, TCODEC_F32, 0},
               {"value_floats", {7, 1, {4, 0}, 0}, TCODEC_F32, 1},
               {"value_int", {3, 0, {8, 1}, 1}, TCODEC_I64, 0},
               {"value_ints", {8, 0, {8, 1}, 0}, TCODEC_I64, 1}};
  for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    if (!ox_span_is(a->name.p, a->name.n, forms[i].name)) continue;
    uint64_t shape[1] = {0};
    ox_newt nt = {forms[i].dtype, forms[i].ndim, shape, 1, NULL, NULL, forms[i].name};
    ox_site s = ox_attr_site(a);
    return ox_data_tensor(x, f, &forms[i].d, &s, &nt, NULL, 0, forms[i].ndim ? UINT64_MAX : 1);
  }
  return 0;
}

static int ox_attribute(ox *x, const pb_field *f, const ox_node *nd, uint64_t index) {
  static const ox_rule name_rule[] = {{1, PB_LEN, ox_attr_name}, {0, 0, NULL}};
  static const ox_rule rules[] = {{5, PB_LEN, ox_attr_tensor},
                                  {10, PB_LEN, ox_attr_tensor},
                                  {6, PB_LEN, ox_attr_graph},
                                  {11, PB_LEN, ox_attr_graph},
                                  {22, PB_LEN, ox_attr_sparse},
                                  {23, PB_LEN, ox_attr_sparse},
                                  {0, 0, NULL}};
  ox_attr a = {nd, {NULL, 0}, 0, 0};
  int rc = ox_walk(x, f->pos, f->end, name_rule, &a);
  if (rc != 0) return rc;
  if (a.name.p != NULL) {
    ox_tput(&x->path, ".attribute['", 12);
    ox_escape(&x->path, a.name.p, a.name.n, 64);
    ox_tput(&x->path, "']", 2);
  } else {
    ox_printf(&x->path, ".attribute[%llu]", (unsigned long long)index);
  }
  rc = ox_walk(x, f->pos, f->end, rules, &a);
  if (rc == 0 && nd->is_constant) rc = ox_attr_scalars(x, f, &a);
  return rc;
}

typedef struct ox_use { /* one input of one node of a graph */
  ox_span name;
  uint64_t node, input;
} ox_use;

typedef struct ox_gr {
  uint32_t id, node_field;
  uint64_t nnodes, ninit, nsparse, nin;
  ox_use *uses;
  size_t nuses, ucap;
  ox_span *ops;
  size_t opcap;
} ox_gr;

static int ox_node_attr(ox *x, const pb_field *f, void *st) {
  ox_node *nd = st;
  size_t mark = ox_path_mark(x);
  int rc = ox_push(x, f);
  if (rc != 0) return rc;
  rc = ox_attribute(x, f, nd, nd->nattr++);
  x->nfr--;
  ox_path_reset(x, mark);
  return rc;
}

/* Pass 1 over a node: its inputs (for consumers) and op_type. */
static int ox_node_input(ox *x, const pb_field *f, void *st) {
  ox_gr *g = st;
  if (ox_grow(&g->uses, &g->ucap, g->nuses, sizeof(ox_use)) != 0) return ox_nomem(x);
  g->uses[g->nuses++] = (ox_use){{x->src + f->pos, f->end - f->pos}, g->nnodes, g->nin++};
  return 0;
}

static int ox_node_op(ox *x, const pb_field *f, void *st) {
  ox_gr *g = st;
  g->ops[g->nnodes] = (ox_span){x->src + f->pos, f->end - f->pos};
  return 0;
}

static int ox_node1(ox *x, const pb_field *f, void *st) {
  static const ox_rule rules[] = {
      {1, PB_LEN, ox_node_input}, {4, PB_LEN, ox_node_op}, {0, 0, NULL}};
  ox_gr *g = st;
  if (f->num != g->node_field) return 0;
  if (ox_grow(&g->ops, &g->opcap, g->nnodes, sizeof(ox_span)) != 0) return ox_nomem(x);
  g->ops[g->nnodes] = (ox_span){NULL, 0};
  g->nin = 0;
  int rc = ox_walk(x, f->pos, f->end, rules, g);
  g->nnodes++;
  return rc;
}

/* Pass 2 over a node: its attributes. */
static int ox_node2(ox *x, const pb_field *f, void *st) {
  ox_gr *g = st;
  if (f->num != g->node_field) return 0;
  ox_node nd;
  memset(&nd, 0, sizeof(nd));
  nd.graph = g->id;
  int rc = ox_walk(x, f->pos, f->end, ox_node_rules, &nd);
  if (rc != 0) return rc;
  nd.is_constant = ox_span_is(nd.op.p, nd.op.n, "Constant") &&
                   (nd.domain.n == 0 || ox_span_is(nd.domain.p, nd.domain.n, "ai.onnx"));
  size_t mark = ox_path_mark(x);
  ox_printf(&x->path, ".node[%llu]", (unsigned long long)g->nnodes++);
  ox_path_name(x, nd.name);
  if ((rc = ox_push(x, f)) == 0) {
    rc =
        ox_walk(x, f->pos, f->end, (const ox_rule[]){{5, PB_LEN, ox_node_attr}, {0, 0, NULL}}, &nd);
    x->nfr--;
  }
  ox_path_reset(x, mark);
  return rc;
}

static int ox_initializer(ox *x, const pb_field *f, void *st) {
  ox_gr *g = st;
  size_t mark = ox_path_mark(x);
  ox_printf(&x->path, ".initializer[%llu]", (unsigned long long)g->ninit++);
  ox_site s;
  memset(&s, 0, sizeof(s));
  s.graph = g->id;
  s.key_is_name = 1;
  int rc = ox_tensor(x, f, &s);
  ox_path_reset(x, mark);
  return rc;
}

static int ox_sparse_init(ox *x, const pb_field *f, void *st) {
  ox_gr *g = st;
  size_t mark = ox_path_mark(x);
  ox_printf(&x->path, ".sparse_initializer[%llu]", (unsigned long long)g->nsparse++);
  ox_keep(x, "sparse tensor");
  ox_path_reset(x, mark);
  (void)f;
  return 0;
}

static int ox_use_cmp(const void *a, const void *b) {
  const ox_use *u = a, *v = b;
  size_t n = u->name.n < v->name.n ? u->name.n : v->name.n;
  int c = n ? memcmp(u->name.p, v->name.p, n) : 0;
  if (c != 0 || u->name.n != v->name.n) return c != 0 ? c : u->name.n < v->name.n ? -1 : 1;
  if (u->node != v->node) return u->node < v->node ? -1 : 1;
  return u->input < v->input ? -1 : u->input > v->input;
}

/* The first node of graph g that takes each of its tensors as an input. */
static void ox_consumers(ox *x, const ox_gr *g, size_t first) {
  if (g->nuses) qsort(g->uses, g->nuses, sizeof(ox_use), ox_use_cmp);
  for (size_t i = first; i < x->m->ntensors; i++) {
    if (x->ti[i].graph != g->id || x->ti[i].key == NULL) continue;
    ox_use key = {{x->ti[i].key, x->ti[i].key_len}, 0, 0};
    size_t lo = 0, hi = g->nuses;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (ox_use_cmp(&g->uses[mid], &key) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == g->nuses || g->uses[lo].name.n != key.name.n ||
        (key.name.n && memcmp(g->uses[lo].name.p, key.name.p, key.name.n)))
      continue;
    const ox_span *op = &g->ops[g->uses[lo].node];
    tcf_tensor *t = &x->m->tensors[i];
    snprintf(t->consumer_op, sizeof(t->consumer_op), "%.*s", (int)(op->n < 63 ? op->n : 63),
             op->p ? (const char *)op->p : "");
    t->consumer_input = (int)(g->uses[lo].input < INT32_MAX ? g->uses[lo].input : INT32_MAX);
  }
}

/* A GraphProto (node_field 1) or FunctionProto (node_field 7). */
static int ox_graph_body(ox *x, const pb_field *f, ox_gr *g) {
  static const ox_rule graph_rules[] = {{1, PB_LEN, ox_node2},
                                        {5, PB_LEN, ox_initializer},
                                        {15, PB_LEN, ox_sparse_init},
                                        {0, 0, NULL}};
  static const ox_rule func_rules[] = {{7, PB_LEN, ox_node2}, {0, 0, NULL}};
  int rc = ox_walk(x, f->pos, f->end,
                   (const ox_rule[]){{g->node_field, PB_LEN, ox_node1}, {0, 0, NULL}}, g);
  size_t first = x->m->ntensors;
  g->nnodes = 0;
  if (rc == 0) rc = ox_walk(x, f->pos, f->end, g->node_field == 1 ? graph_rules : func_rules, g);
  if (rc == 0) ox_consumers(x, g, first);
  return rc;
}

static int ox_graph(ox *x, const pb_field *f, uint32_t node_field) {
  if (x->depth >= TCF_ONNX_MAX_GRAPH_DEPTH)
    return ox_fail(x, TCODEC_E_LIMIT, f->tag_pos, "subgraphs nested deeper than %d",
                   TCF_ONNX_MAX_GRAPH_DEPTH);
  int rc = ox_push(x, f);
  if (rc != 0) return rc;
  ox_gr g;
  memset(&g, 0, sizeof(g));
  g.id = ++x->graphs;
  g.node_field = node_field;
  x->depth++;
  rc = ox_graph_body(x, f, &g);
  x->depth--;
  x->nfr--;
  free(g.uses);
  free(g.ops);
  return rc;
}

/* ---- the model ------------------------------------------------------------------------------- */

typedef struct ox_ms {
  uint64_t ntrain, nfunc, ngraph;
} ox_ms;

/* Model metadata for display (the skeleton keeps the bytes): UTF-8 text only, bounded. */
static int ox_meta(ox *x, const char *key, const uint8_t *v, size_t n) {
  if (x->m->meta_count >= OX_MAX_META || n > 65536 || !ox_utf8_ok(v, n)) return 0;
  char *val = ox_strndup(v, n);
  int rc = val == NULL ? TCODEC_E_NOMEM : tcf_model_add_meta(x->m, key, val);
  free(val);
  return rc != 0 ? ox_nomem(x) : 0;
}

static int ox_model_text(ox *x, const pb_field *f, void *st) {
  static const char *const keys[] = {
      [1] = "onnx.ir_version", [2] = "onnx.producer_name", [3] = "onnx.producer_version",
      [4] = "onnx.domain",     [5] = "onnx.model_version", [6] = "onnx.doc_string"};
  char num[24];
  (void)st;
  if (f->wt == PB_LEN) return ox_meta(x, keys[f->num], x->src + f->pos, f->end - f->pos);
  snprintf(num, sizeof(num), "%lld", (long long)f->u);
  return ox_meta(x, keys[f->num], (const uint8_t *)num, strlen(num));
}

static int ox_opset_field(ox *x, const pb_field *f, void *st) {
  uint64_t *kv = st;
  (void)x;
  if (f->num == 1) kv[0] = f->pos, kv[1] = f->end;
  if (f->num == 2) kv[2] = f->u, kv[3] = 1;
  return 0;
}

static int ox_model_opset(ox *x, const pb_field *f, void *st) {
  static const ox_rule rules[] = {
      {1, PB_LEN, ox_opset_field}, {2, PB_VARINT, ox_opset_field}, {0, 0, NULL}};
  uint64_t kv[4] = {0, 0, 0, 0};
  int rc = ox_walk(x, f->pos, f->end, rules, kv);
  (void)st;
  if (rc != 0 || x->opsets.n > OX_KEPT_TEXT) return rc;
  if (x->opsets.n) ox_tput(&x->opsets, ", ", 2);
  if (kv[1] > kv[0])
    ox_escape(&x->opsets, x->src + kv[0], (size_t)(kv[1] - kv[0]), 64);
  else
    ox_tput(&x->opsets, "ai.onnx", 7);
  ox_printf(&x->opsets, ":%lld", (long long)kv[2]);
  return 0;
}

static int ox_model_prop(ox *x, const pb_field *f, void *st) {
  static const ox_rule rules[] = {
      {1, PB_LEN, ox_ext_entry}, {2, PB_LEN, ox_ext_entry}, {0, 0, NULL}};
  const uint8_t *kv[4] = {NULL, NULL, NULL, NULL};
  int rc = ox_walk(x, f->pos, f->end, rules, kv);
  (void)st;
  if (rc != 0 || kv[0] == NULL || kv[1] - kv[0] > 256 ||
      !ox_utf8_ok(kv[0], (size_t)(kv[1] - kv[0])))
    return rc;
  char key[300];
  snprintf(key, sizeof(key), "onnx.metadata_props.%.*s", (int)(kv[1] - kv[0]), (const char *)kv[0]);
  return ox_meta(x, key, kv[2] ? kv[2] : (const uint8_t *)"", kv[2] ? (size_t)(kv[3] - kv[2]) : 0);
}

static int ox_model_graph(ox *x, const pb_field *f, void *st) {
  size_t mark = ox_path_mark(x);
  ((ox_ms *)st)->ngraph++;
  ox_tput(&x->path, "graph", 5);
  int rc = ox_graph(x, f, 1);
  ox_path_reset(x, mark);
  return rc;
}

/* TrainingInfoProto: initialization (1) and algorithm (2) are graphs. */
static int ox_training_graph(ox *x, const pb_field *f, void *st) {
  size_t mark = ox_path_mark(x);
  ox_tput(&x->path, f->num == 1 ? ".initialization" : ".algorithm", f->num == 1 ? 15 : 10);
  int rc = ox_graph(x, f, 1);
  ox_path_reset(x, mark);
  (void)st;
  return rc;
}

static int ox_model_training(ox *x, const pb_field *f, void *st) {
  static const ox_rule rules[] = {
      {1, PB_LEN, ox_training_graph}, {2, PB_LEN, ox_training_graph}, {0, 0, NULL}};
  size_t mark = ox_path_mark(x);
  ox_printf(&x->path, "training_info[%llu]", (unsigned long long)((ox_ms *)st)->ntrain++);
  int rc = ox_push(x, f);
  if (rc == 0) {
    rc = ox_walk(x, f->pos, f->end, rules, NULL);
    x->nfr--;
  }
  ox_path_reset(x, mark);
  return rc;
}

/* FunctionProto: its nodes (7) may hold Constants. */
static int ox_model_function(ox *x, const pb_field *f, void *st) {
  size_t mark = ox_path_mark(x);
  ox_attr a;
  memset(&a, 0, sizeof(a));
  int rc =
      ox_walk(x, f->pos, f->end, (const ox_rule[]){{1, PB_LEN, ox_attr_name}, {0, 0, NULL}}, &a);
  ox_printf(&x->path, "functions[%llu]", (unsigned long long)((ox_ms *)st)->nfunc++);
  ox_path_name(x, a.name);
  if (rc == 0) rc = ox_graph(x, f, 7);
  ox_path_reset(x, mark);
  return rc;
}

static const ox_rule ox_model_rules[] = {
    {1, PB_VARINT, ox_model_text},   {2, PB_LEN, ox_model_text},      {3, PB_LEN, ox_model_text},
    {4, PB_LEN, ox_model_text},      {5, PB_VARINT, ox_model_text},   {6, PB_LEN, ox_model_text},
    {7, PB_LEN, ox_model_graph},     {8, PB_LEN, ox_model_opset},     {14, PB_LEN, ox_model_prop},
    {20, PB_LEN, ox_model_training}, {25, PB_LEN, ox_model_function}, {0, 0, NULL}};

/* ---- the skeleton section (layout in docs/onnx.md) ------------------------------------------- */

static void ox_put_tag(tcf_buf *b, uint32_t num, unsigned wt) {
  ox_putv(b, (uint64_t)num << 3 | wt);
}

static void ox_put_bytes(tcf_buf *b, uint32_t num, const void *p, size_t n) {
  ox_put_tag(b, num, PB_LEN);
  ox_putv(b, n);
  tcf_buf_put(b, p, n);
}

static void ox_put_uint(tcf_buf *b, uint32_t num, uint64_t v) {
  ox_put_tag(b, num, PB_VARINT);
  ox_putv(b, v);
}

static void ox_put_skeleton(const ox *x, tcf_buf *b) {
  uint64_t cut = 0, at = 0;
  for (size_t i = 0; i < x->nholes; i++) cut += x->holes[i].len;
  ox_put_tag(b, 2, PB_LEN);
  ox_putv(b, x->n - cut);
  for (size_t i = 0; i < x->nholes; i++) {
    tcf_buf_put(b, x->src + at, (size_t)(x->holes[i].pos - at));
    at = x->holes[i].pos + x->holes[i].len;
  }
  tcf_buf_put(b, x->src + at, (size_t)(x->n - at));
}

static void ox_put_tensors(const ox *x, tcf_buf *b) {
  tcf_buf sub = {NULL, 0, 0, 0}, dims = {NULL, 0, 0, 0};
  for (size_t i = 0; i < x->m->ntensors; i++) {
    const tcf_tensor *t = &x->m->tensors[i];
    sub.n = dims.n = 0;
    ox_put_bytes(&sub, 1, t->name, strlen(t->name));
    ox_put_uint(&sub, 2, (uint64_t)t->dtype);
    for (unsigned k = 0; k < t->ndim; k++) ox_putv(&dims, t->shape[k]);
    ox_put_bytes(&sub, 3, dims.p, dims.n);
    if (x->ti[i].location != NULL) {
      ox_put_bytes(&sub, 4, x->ti[i].location, strlen(x->ti[i].location));
      ox_put_uint(&sub, 5, x->ti[i].ext_offset);
    }
    ox_put_bytes(b, 3, sub.p, sub.n);
    b->oom |= sub.oom | dims.oom;
  }
  tcf_buf_free(&sub);
  tcf_buf_free(&dims);
}

static void ox_put_table(tcf_buf *b, uint32_t num, const uint64_t *v, size_t n) {
  tcf_buf t = {NULL, 0, 0, 0};
  for (size_t i = 0; i < n; i++) ox_putv(&t, v[i]);
  ox_put_bytes(b, num, t.p, t.n);
  b->oom |= t.oom;
  tcf_buf_free(&t);
}

static void ox_put_holes(const ox *x, tcf_buf *b) {
  tcf_buf t = {NULL, 0, 0, 0};
  for (size_t i = 0; i < x->nholes; i++) {
    const ox_hole *h = &x->holes[i];
    const uint64_t v[6] = {h->pos, h->len, h->kind, h->tensor, h->first, h->count};
    for (size_t k = 0; k < 6; k++) ox_putv(&t, v[k]);
  }
  ox_put_bytes(b, 4, t.p, t.n);
  b->oom |= t.oom;
  tcf_buf_free(&t);
}

static int ox_pos_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; /* first member: the position */
  return x < y ? -1 : x > y;
}

/* Holes and prefixes are found in file order except where one message is walked twice (an
 * attribute's list forms after its tensor): sort them. They never overlap, and a tensor's own
 * holes are found in order, so sorting by position is enough. */
static void ox_sort(ox *x) {
  if (x->nholes > 1) qsort(x->holes, x->nholes, sizeof(ox_hole), ox_pos_cmp);
  if (x->npre > 1) qsort(x->pre, x->npre, 3 * sizeof(uint64_t), ox_pos_cmp);
}

static int ox_section(ox *x) {
  tcf_buf b = {NULL, 0, 0, 0};
  ox_sort(x);
  uint8_t version = TCF_ONNX_SECTION_VERSION;
  tcf_buf_put(&b, TCF_ONNX_SECTION_MAGIC, 4);
  tcf_buf_put(&b, &version, 1);
  ox_put_uint(&b, 1, x->n);
  ox_put_skeleton(x, &b);
  ox_put_tensors(x, &b);
  ox_put_holes(x, &b);
  ox_put_table(&b, 5, x->pre, x->npre * 3);
  int rc = b.oom ? TCODEC_E_NOMEM : tcf_model_add_section(x->m, TCF_ONNX_SECTION, b.p, b.n);
  tcf_buf_free(&b);
  return rc != 0 ? ox_nomem(x) : 0;
}

/* ---- entry point ----------------------------------------------------------------------------- */

static int ox_finish(ox *x, const ox_ms *ms) {
  char count[24];
  int rc = 0;
  if (ms->ngraph == 0)
    return ox_fail(x, TCODEC_E_PAYLOAD, 0, "not an ONNX model: no ModelProto.graph");
  if (x->opsets.n) rc = tcf_model_add_meta(x->m, "onnx.opset_import", x->opsets.p);
  snprintf(count, sizeof(count), "%llu", (unsigned long long)x->nkept);
  if (rc == 0 && x->nkept) rc = tcf_model_add_meta(x->m, "onnx.kept_count", count);
  if (rc == 0 && x->nkept) rc = tcf_model_add_meta(x->m, "onnx.kept", x->kept.p);
  if (rc != 0 || x->kept.oom || x->path.oom || x->opsets.oom) return ox_nomem(x);
  return ox_section(x);
}

static void ox_release(ox *x) {
  for (size_t i = 0; x->ti != NULL && i < x->m->ntensors; i++) free(x->ti[i].location);
  free(x->ti);
  free(x->holes);
  free(x->pre);
  free(x->names);
  tcf_buf_free(&x->path);
  tcf_buf_free(&x->kept);
  tcf_buf_free(&x->opsets);
  free(x);
}

int tcf_onnx_parse(const uint8_t *src, size_t n, const char *file_name,
                   const tcf_onnx_external *ext, const tcf_limits *lim, tcf_model *out,
                   tcf_error *err) {
  tcf_limits l;
  tcf_limits_resolve(lim, &l);
  tcf_error_clear(err, file_name);
  if (out == NULL || (src == NULL && n > 0))
    return tcf_error_set(err, TCODEC_E_ARG, file_name, UINT64_MAX, "no model or no bytes");
  memset(out, 0, sizeof(*out));
  snprintf(out->format, sizeof(out->format), "onnx");
  ox *x = calloc(1, sizeof(ox));
  if (x == NULL) return tcf_error_set(err, TCODEC_E_NOMEM, file_name, UINT64_MAX, "out of memory");
  x->src = src != NULL ? src : (const uint8_t *)"";
  x->n = n;
  x->file = file_name;
  x->ext = ext;
  x->err = err;
  x->max_tensors = l.max_tensors;
  x->max_file = l.max_file_bytes;
  x->m = out;
  ox_tput(&x->path, "", 0);
  ox_ms ms = {0, 0, 0};
  int rc = x->path.oom ? ox_nomem(x)
           : n > l.max_file_bytes
               ? ox_fail(x, TCODEC_E_LIMIT, UINT64_MAX, "model larger than the limit")
               : ox_walk(x, 0, n, ox_model_rules, &ms);
  if (rc == 0) rc = ox_finish(x, &ms);
  ox_release(x);
  if (rc != 0) {
    tcf_model_free(out);
    snprintf(out->format, sizeof(out->format), "onnx");
  }
  return rc;
}
