/*
 * fuzz_msg.c - libFuzzer target for the first code that reads a peer's
 * bytes: jr_msg_decode(), and jr_lz4_unpack() on the payload of every
 * frame that decodes with JR_MSGF_LZ4, capped at 1 MiB as a worker would.
 *
 * Built and run by tests/fuzz/run.sh (ctest: fuzz_short).  By hand:
 *   clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -I. -Iinclude tests/fuzz/fuzz_msg.c ipc/msg.c ipc/lz4.c util/util.c \
 *     -llz4 -o fuzz_msg
 *   mkdir -p /tmp/fuzz_msg.new
 *   ./fuzz_msg -max_total_time=60 -max_len=65536 /tmp/fuzz_msg.new \
 *     tests/fuzz/corpus/msg
 * libFuzzer writes new inputs into the first directory: keep the seeds
 * second.  A crash's input becomes a seed in tests/fuzz/corpus/msg.
 * liblz4 itself is not instrumented; valgrind covers it in test_ipc.
 */
#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jr_msg m;
    if (jr_msg_decode(data, size, &m) != 0)
        return 0;
    /* A decoded payload lies inside the frame, whole. */
    if (m.payload < data + JR_MSG_HDR || m.len != size - JR_MSG_HDR)
        __builtin_trap();
    if (m.flags & JR_MSGF_LZ4) {
        jr_buf out = {0};
        int rc = jr_lz4_unpack(m.payload, m.len, 1u << 20, &out);
        if (rc == 0 && (out.len > (1u << 20) ||
                        out.len != jr_get_u32(m.payload)))
            __builtin_trap();
        if (rc != 0 && out.len != 0)
            __builtin_trap(); /* a failed unpack appends nothing */
        jr_buf_fini(&out);
    }
    return 0;
}
