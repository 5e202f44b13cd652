/*
 * edgeq_icount: exact guest instruction counts at each call of edgeq_mark().
 *
 * An inline add on every translated instruction keeps a running total (exact, unlike per-TB counting,
 * which over-counts when a block exits early). When the guest executes the first instruction of
 * edgeq_mark, the running total is appended to a list, written one decimal per line at exit.
 * Counts exclude the marked instruction itself; only differences between marks are meaningful.
 *
 * Arguments: mark=<hex address of edgeq_mark>, out=<path of the count file>.
 * Single vCPU only (Cortex-M boards), so one global counter suffices.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t insn_count;
static uint64_t mark_addr;
static const char *out_path;
static uint64_t *marks;
static size_t n_marks, cap_marks;

static void on_mark(unsigned int vcpu_index, void *udata)
{
    (void)vcpu_index;
    (void)udata;
    if (n_marks == cap_marks) {
        cap_marks = cap_marks ? 2 * cap_marks : 4096;
        marks = realloc(marks, cap_marks * sizeof(*marks));
        if (!marks) {
            fprintf(stderr, "edgeq_icount: out of memory after %zu marks\n", n_marks);
            exit(70);
        }
    }
    marks[n_marks++] = insn_count;
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &insn_count, 1);
        if (qemu_plugin_insn_vaddr(insn) == mark_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
    }
}

static void write_marks(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "edgeq_icount: cannot write %s\n", out_path);
        return;
    }
    for (size_t i = 0; i < n_marks; i++) {
        fprintf(f, "%" PRIu64 "\n", marks[i]);
    }
    fprintf(f, "total %" PRIu64 "\n", insn_count);
    fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    int have_mark = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "mark=", 5) == 0) {
            mark_addr = strtoull(argv[i] + 5, NULL, 0) & ~1ULL; /* drop the Thumb bit */
            have_mark = 1;
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            out_path = argv[i] + 4;
        } else {
            fprintf(stderr, "edgeq_icount: unknown argument '%s' (expected mark=ADDR, out=PATH)\n", argv[i]);
            return -1;
        }
    }
    if (!have_mark || !out_path) {
        fprintf(stderr, "edgeq_icount: both mark=ADDR and out=PATH are required\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, write_marks, NULL);
    return 0;
}
