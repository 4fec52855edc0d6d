/*
 * A QEMU TCG plugin that counts the guest instructions a program executes:
 * infra/proof-cost.sh and infra/insn-count.sh load it into Debian's qemu-user
 * (qemu-aarch64 -plugin .../libinsn-count.so), infra/qemu-insn/build.sh builds it.
 *
 * Each translated block gets an inline "add its instruction count to a counter"
 * operation (no callback, no log), so counting costs little beyond emulation; the
 * total is written to stderr at exit as "insn-count: N". The guest is expected to
 * run on one vCPU (one thread), which is what the benchmarks run under qemu-user.
 *
 * The plugin API (QEMU 7.2, plugin API version 1) is declared here from its
 * documentation (docs/devel/tcg-plugins.rst, "API"), not from QEMU's header,
 * which Debian does not ship: only the six entry points and the one enum value
 * this plugin uses.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;

/* enum qemu_plugin_op: QEMU_PLUGIN_INLINE_ADD_U64 is its first (0) value. */
#define QEMU_PLUGIN_INLINE_ADD_U64 0

extern void qemu_plugin_register_vcpu_tb_trans_cb(
    qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, int op,
                                                     void *ptr, uint64_t imm);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t, void *),
                                           void *userdata);

/* The API version this plugin was written against (QEMU checks it at load). */
__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t executed;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed,
                                             qemu_plugin_tb_n_insns(tb));
}

static void on_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    fprintf(stderr, "insn-count: %" PRIu64 "\n", executed);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    (void)argc;
    (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
