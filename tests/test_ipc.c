/*
 * test_ipc.c - the wire format, the LZ4 payload codec, the runtime
 * directory and jr_ipc_send(), fed mostly with what a hostile or broken
 * peer would send: cut frames, lying lengths, unknown types and flags,
 * corrupt or oversized LZ4 blocks; and the growable arrays and buffers
 * that messages are built in.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <zmq.h>

#include "ipc/ipc.h"
#include "shm/shm.h"
#include "tests/helpers.h"
#include "worker/worker.h"

/* Each test ends with jr_test_assert_clean(): Criterion 2.4 does not
 * count a failed assertion in .fini. */
TestSuite(ipc, .timeout = 20);

/* A valid frame: header plus plen payload bytes. */
static size_t frame(uint8_t *out, uint8_t type, uint16_t flags,
                    const void *payload, size_t plen)
{
    jr_msg m = {.type = type, .flags = flags, .worker = 3, .task = 42,
                .attempt = 2, .payload = payload, .len = plen};
    jr_msg_encode(out, &m);
    if (plen) /* the payload may already sit in place */
        memmove(out + JR_MSG_HDR, payload, plen);
    return JR_MSG_HDR + plen;
}

/* Deterministic bytes: compressible text or incompressible noise. */
static void fill_text(uint8_t *p, size_t n)
{
    static const char words[] = "the quick brown fox jumps over the dog ";
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)words[(i * 7 / 5) % (sizeof words - 1)];
}

static void fill_noise(uint8_t *p, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

/*-************************************
 *  Shuffle records
 **************************************/
static const uint32_t rec_klens[] = {0, 1, 254, 255, 256, 70000, UINT32_MAX};
static const uint64_t rec_values[] = {0,
                                      1,
                                      127,
                                      128,
                                      16383,
                                      16384,
                                      (uint64_t)1 << 32,
                                      ((uint64_t)1 << 63) - 1,
                                      (uint64_t)1 << 63,
                                      UINT64_MAX};

/* A record header is 1 or 5 bytes of key length and 1 to 10 of value
 * (7 bits each), and reads back as written, by the common case's code
 * (len 2) and the other alike. */
Test(rec, a_header_reads_back_as_written_at_every_boundary)
{
    for (size_t i = 0; i < sizeof rec_klens / sizeof *rec_klens; i++)
        for (size_t j = 0; j < sizeof rec_values / sizeof *rec_values; j++) {
            uint32_t klen = rec_klens[i];
            uint64_t v = rec_values[j];
            uint8_t p[JR_REC_HDR_MAX + 1];
            memset(p, 0xaa, sizeof p);
            size_t n = jr_rec_put_hdr(p, klen, v);
            size_t bits = 1;
            while (bits < 64 && v >> bits)
                bits++;
            size_t want = (klen < 255 ? 1 : 5) + (bits + 6) / 7;
            cr_assert_eq(n, want, "klen %u, value %llu: %zu bytes", klen,
                         (unsigned long long)v, n);
            cr_assert_eq(p[n], 0xaa, "wrote past its length");
            uint32_t k = 0;
            uint64_t got = 0;
            cr_assert_eq(jr_rec_get_hdr(p, n, &k, &got), n);
            cr_assert_eq(k, klen);
            cr_assert_eq(got, v);
            /* Bytes after it (the key) change nothing. */
            cr_assert_eq(jr_rec_get_hdr(p, sizeof p, &k, &got), n);
            cr_assert_eq(got, v);
        }
}

Test(rec, a_header_cut_short_anywhere_is_refused)
{
    for (size_t i = 0; i < sizeof rec_klens / sizeof *rec_klens; i++)
        for (size_t j = 0; j < sizeof rec_values / sizeof *rec_values; j++) {
            uint8_t p[JR_REC_HDR_MAX];
            size_t n = jr_rec_put_hdr(p, rec_klens[i], rec_values[j]);
            for (size_t cut = 0; cut < n; cut++) {
                uint32_t k;
                uint64_t v;
                cr_assert_eq(jr_rec_get_hdr(p, cut, &k, &v), 0,
                             "klen %u, value %llu, cut at %zu of %zu",
                             rec_klens[i], (unsigned long long)rec_values[j],
                             cut, n);
            }
        }
}

/* A value needs ten bytes at most, and the tenth holds one bit: more is a
 * record no writer made, refused rather than wrapped round. */
Test(rec, a_value_past_64_bits_is_refused)
{
    uint8_t p[16] = {3};
    uint32_t k;
    uint64_t v;
    memset(p + 1, 0xff, 9);
    p[10] = 0x01; /* UINT64_MAX: the largest there is */
    cr_assert_eq(jr_rec_get_hdr(p, 11, &k, &v), 11);
    cr_assert_eq(v, UINT64_MAX);
    p[10] = 0x02; /* bit 64 */
    cr_assert_eq(jr_rec_get_hdr(p, sizeof p, &k, &v), 0);
    p[10] = 0x81; /* an eleventh byte would follow */
    p[11] = 0x00;
    cr_assert_eq(jr_rec_get_hdr(p, sizeof p, &k, &v), 0);
    memset(p + 1, 0x80, 15); /* zeros, continued past the end */
    cr_assert_eq(jr_rec_get_hdr(p, sizeof p, &k, &v), 0);
}

/*-************************************
 *  Message framing
 **************************************/
Test(ipc, message_survives_an_encode_decode_round_trip)
{
    uint8_t buf[JR_MSG_HDR + 5];
    jr_msg in = {.type = JR_MSG_DONE, .flags = JR_MSGF_LZ4,
                 .worker = UINT32_MAX, .task = UINT64_MAX - 1,
                 .attempt = 0x01020304u, .payload = (const uint8_t *)"hello",
                 .len = 5};
    jr_msg_encode(buf, &in);
    memcpy(buf + JR_MSG_HDR, "hello", 5);
    /* The layout of ipc.h, byte for byte. */
    cr_assert_eq(buf[0], JR_WIRE_VERSION);
    cr_assert_eq(buf[1], JR_MSG_DONE);
    cr_assert_eq(buf[2], 1);
    cr_assert_eq(buf[3], 0);
    cr_assert_eq(jr_get_u32(buf + 16), 0x01020304u);
    cr_assert_eq(buf[16], 0x04); /* little-endian */
    cr_assert_eq(jr_get_u32(buf + 20), 5);

    jr_msg out;
    cr_assert_eq(jr_msg_decode(buf, sizeof buf, &out), 0);
    cr_assert_eq(out.type, in.type);
    cr_assert_eq(out.flags, in.flags);
    cr_assert_eq(out.worker, in.worker);
    cr_assert_eq(out.task, in.task);
    cr_assert_eq(out.attempt, in.attempt);
    cr_assert_eq(out.len, 5);
    cr_assert_eq(out.payload, buf + JR_MSG_HDR);

    /* Every type, empty payload. */
    for (int t = 1; t < JR_MSG_TYPE_MAX_; t++) {
        size_t n = frame(buf, (uint8_t)t, 0, NULL, 0);
        cr_assert_eq(jr_msg_decode(buf, n, &out), 0);
        cr_assert_eq(out.type, t);
        cr_assert_eq(out.len, 0);
    }
    jr_test_assert_clean();
}

Test(ipc, decoder_rejects_every_truncated_header)
{
    uint8_t buf[JR_MSG_HDR];
    frame(buf, JR_MSG_HELLO, 0, NULL, 0);
    jr_msg m = {.type = 99};
    for (size_t len = 0; len < JR_MSG_HDR; len++)
        cr_assert_eq(jr_msg_decode(buf, len, &m), JR_EPROTO, "len %zu", len);
    cr_assert_eq(jr_msg_decode(NULL, 0, &m), JR_EPROTO);
    cr_assert_eq(m.type, 99, "a rejected frame wrote the message");
    jr_test_assert_clean();
}

Test(ipc, decoder_rejects_a_frame_with_its_payload_cut)
{
    uint8_t buf[JR_MSG_HDR + 16] = {0};
    size_t n = frame(buf, JR_MSG_TASK, 0, buf + JR_MSG_HDR, 16);
    jr_msg m;
    for (size_t len = JR_MSG_HDR; len < n; len++)
        cr_assert_eq(jr_msg_decode(buf, len, &m), JR_EPROTO, "len %zu", len);
    cr_assert_eq(jr_msg_decode(buf, n, &m), 0);
    jr_test_assert_clean();
}

Test(ipc, decoder_rejects_another_wire_version)
{
    uint8_t buf[JR_MSG_HDR];
    jr_msg m;
    static const uint8_t versions[] = {0, JR_WIRE_VERSION + 1, 0x80, 0xff};
    for (size_t i = 0; i < sizeof versions; i++) {
        frame(buf, JR_MSG_HELLO, 0, NULL, 0);
        buf[0] = versions[i];
        cr_assert_eq(jr_msg_decode(buf, sizeof buf, &m), JR_EPROTO);
    }
    jr_test_assert_clean();
}

Test(ipc, decoder_rejects_unknown_types)
{
    uint8_t buf[JR_MSG_HDR];
    jr_msg m;
    static const int types[] = {0, JR_MSG_TYPE_MAX_, JR_MSG_TYPE_MAX_ + 1,
                                0x7f, 0xff};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        frame(buf, (uint8_t)types[i], 0, NULL, 0);
        cr_assert_eq(jr_msg_decode(buf, sizeof buf, &m), JR_EPROTO,
                     "type %d", types[i]);
    }
    jr_test_assert_clean();
}

Test(ipc, decoder_rejects_unknown_flag_bits)
{
    uint8_t buf[JR_MSG_HDR];
    jr_msg m;
    for (int bit = 0; bit < 16; bit++) {
        uint16_t f = (uint16_t)(1u << bit);
        frame(buf, JR_MSG_DONE, f, NULL, 0);
        int rc = jr_msg_decode(buf, sizeof buf, &m);
        if (f == JR_MSGF_LZ4)
            cr_assert_eq(rc, 0);
        else
            cr_assert_eq(rc, JR_EPROTO, "flag bit %d", bit);
    }
    jr_test_assert_clean();
}

Test(ipc, decoder_rejects_a_len_field_that_lies)
{
    uint8_t buf[JR_MSG_HDR + 8] = {0};
    jr_msg m;
    /* 8 bytes follow the header; every other claim is a lie, including
     * those that would wrap a 32-bit sum of header and len. */
    static const uint32_t lies[] = {
        0, 7, 9, 16, JR_MSG_MAX, UINT32_MAX, UINT32_MAX - 1,
        UINT32_MAX - JR_MSG_HDR + 1, UINT32_MAX - JR_MSG_HDR,
        UINT32_MAX - JR_MSG_HDR - 8 + 1, (uint32_t)INT32_MAX + 1};
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        frame(buf, JR_MSG_DONE, 0, buf + JR_MSG_HDR, 8);
        jr_put_u32(buf + 20, lies[i]);
        cr_assert_eq(jr_msg_decode(buf, sizeof buf, &m), JR_EPROTO,
                     "len field %u", (unsigned)lies[i]);
    }
    frame(buf, JR_MSG_DONE, 0, buf + JR_MSG_HDR, 8);
    cr_assert_eq(jr_msg_decode(buf, sizeof buf, &m), 0);
    jr_test_assert_clean();
}

/*-************************************
 *  Growable arrays and buffers
 **************************************/
Test(ipc, a_growable_array_keeps_its_elements_as_it_doubles)
{
    uint32_t *v = NULL;
    size_t cap = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        cr_assert_eq(jr_array_reserve(&v, &cap, i + 1, sizeof *v, 8), 0);
        cr_assert_geq(cap, i + 1);
        /* From 8 by doubling: 8, 16, ... 1024. */
        cr_assert_eq(cap & (cap - 1), 0, "cap %zu is not 8 doubled", cap);
        v[i] = i * 2654435761u;
    }
    cr_assert_eq(cap, 1024);
    for (uint32_t i = 0; i < 1000; i++)
        cr_assert_eq(v[i], i * 2654435761u, "element %u lost", i);
    /* Room enough already: the array stays where it is. */
    uint32_t *before = v;
    cr_assert_eq(jr_array_reserve(&v, &cap, 1024, sizeof *v, 8), 0);
    cr_assert_eq(v, before);
    cr_assert_eq(cap, 1024);
    /* A jump past doubling takes what is asked. */
    cr_assert_eq(jr_array_reserve(&v, &cap, 5000, sizeof *v, 8), 0);
    cr_assert_eq(cap, 8192);
    cr_assert_eq(v[999], 999 * 2654435761u);
    free(v);
    jr_test_assert_clean();
}

Test(ipc, a_growable_array_refuses_sizes_a_size_t_cannot_count)
{
    uint64_t *v = NULL;
    size_t cap = 0;
    cr_assert_eq(jr_array_reserve(&v, &cap, 4, sizeof *v, 4), 0);
    uint64_t *before = v;
    v[3] = 7;
    /* need x size wraps round to 8 bytes: refused, the array and its
     * room as they were. */
    cr_assert_eq(
        jr_array_reserve(&v, &cap, SIZE_MAX / sizeof *v + 2, sizeof *v, 4),
        JR_ENOMEM);
    cr_assert_eq(v, before);
    cr_assert_eq(cap, 4);
    cr_assert_eq(v[3], 7);
    jr_buf buf = {0};
    cr_assert_eq(jr_buf_append(&buf, "ab", 2), 0);
    cr_assert_eq(jr_buf_reserve(&buf, SIZE_MAX - 1), JR_ENOMEM);
    cr_assert_eq(buf.len, 2);
    cr_assert_eq(memcmp(buf.data, "ab", 2), 0);
    jr_buf_fini(&buf);
    free(v);
    jr_test_assert_clean();
}

/*-************************************
 *  LZ4 payloads
 **************************************/
Test(ipc, compressible_payload_is_packed_and_unpacked_back)
{
    enum { N = 256 * 1024 };
    uint8_t *src = malloc(N);
    cr_assert_not_null(src);
    fill_text(src, N);
    jr_buf packed = {0}, out = {0};
    cr_assert_eq(jr_buf_append(&packed, "pre", 3), 0);
    cr_assert_eq(jr_lz4_pack(src, N, &packed), 1);
    cr_assert_lt(packed.len, N / 4);
    cr_assert_eq(memcmp(packed.data, "pre", 3), 0, "pack must append");
    cr_assert_eq(jr_get_u32(packed.data + 3), N);
    cr_assert_eq(jr_buf_append(&out, "x", 1), 0);
    cr_assert_eq(jr_lz4_unpack(packed.data + 3, packed.len - 3, N, &out), 0);
    cr_assert_eq(out.len, 1 + N);
    cr_assert_eq(memcmp(out.data + 1, src, N), 0);
    jr_buf_fini(&packed);
    jr_buf_fini(&out);
    free(src);
    jr_test_assert_clean();
}

Test(ipc, incompressible_or_small_payload_is_not_packed)
{
    enum { N = 64 * 1024 };
    uint8_t *src = malloc(N);
    cr_assert_not_null(src);
    fill_noise(src, N);
    jr_buf b = {0};
    cr_assert_eq(jr_lz4_pack(src, N, &b), 0);
    cr_assert_eq(b.len, 0);
    memset(src, 0, N);
    cr_assert_eq(jr_lz4_pack(src, JR_LZ4_MIN - 1, &b), 0);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(jr_lz4_pack(src, JR_LZ4_MIN, &b), 1);
    cr_assert_lt(b.len, JR_LZ4_MIN);
    jr_buf_fini(&b);
    free(src);
    jr_test_assert_clean();
}

/* A packed block of N compressible bytes, for the unpack tests. */
enum { RAW = 32 * 1024 };
static jr_buf packed_text(uint8_t **raw)
{
    uint8_t *src = malloc(RAW);
    cr_assert_not_null(src);
    fill_text(src, RAW);
    jr_buf b = {0};
    cr_assert_eq(jr_lz4_pack(src, RAW, &b), 1);
    *raw = src;
    return b;
}

Test(ipc, unpack_refuses_a_raw_length_over_cap)
{
    uint8_t *raw;
    jr_buf b = packed_text(&raw), out = {0};
    cr_assert_eq(jr_lz4_unpack(b.data, b.len, RAW - 1, &out), JR_EPROTO);
    cr_assert_eq(out.len, 0);
    cr_assert_null(out.data, "refused before allocating");
    /* A bomb: a claim of 2 GiB+ with no cap is refused without trying. */
    jr_put_u32(b.data, (uint32_t)INT_MAX + 1);
    cr_assert_eq(jr_lz4_unpack(b.data, b.len, SIZE_MAX, &out), JR_EPROTO);
    jr_put_u32(b.data, UINT32_MAX);
    cr_assert_eq(jr_lz4_unpack(b.data, b.len, SIZE_MAX, &out), JR_EPROTO);
    cr_assert_null(out.data);
    jr_buf_fini(&b);
    free(raw);
    jr_test_assert_clean();
}

Test(ipc, unpack_rejects_every_truncation_of_a_block)
{
    uint8_t *raw;
    jr_buf b = packed_text(&raw), out = {0};
    for (size_t len = 0; len < b.len; len++) {
        cr_assert_eq(jr_lz4_unpack(b.data, len, RAW, &out), JR_EPROTO,
                     "cut at %zu of %zu", len, b.len);
        cr_assert_eq(out.len, 0);
    }
    cr_assert_eq(jr_lz4_unpack(b.data, b.len, RAW, &out), 0);
    cr_assert_eq(memcmp(out.data, raw, RAW), 0);
    jr_buf_fini(&b);
    jr_buf_fini(&out);
    free(raw);
    jr_test_assert_clean();
}

Test(ipc, unpack_rejects_a_raw_length_that_differs_from_the_block)
{
    uint8_t *raw;
    jr_buf b = packed_text(&raw), out = {0};
    static const uint32_t lies[] = {0, 1, RAW - 1, RAW + 1, 2 * RAW};
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        jr_put_u32(b.data, lies[i]);
        cr_assert_eq(jr_lz4_unpack(b.data, b.len, 4 * RAW, &out), JR_EPROTO,
                     "raw length %u", (unsigned)lies[i]);
        cr_assert_eq(out.len, 0);
    }
    jr_buf_fini(&b);
    jr_buf_fini(&out);
    free(raw);
    jr_test_assert_clean();
}

Test(ipc, unpack_rejects_corrupt_blocks_and_never_overruns)
{
    jr_buf out = {0};
    /* A match whose offset reaches before the start of the output. */
    static const uint8_t back[] = {16, 0, 0, 0, 0x1f, 'a', 0xff, 0xff, 0x00};
    cr_assert_eq(jr_lz4_unpack(back, sizeof back, 1024, &out), JR_EPROTO);
    /* Offset 0 is invalid in LZ4. */
    static const uint8_t zero[] = {16, 0, 0, 0, 0x1f, 'a', 0x00, 0x00, 0x00};
    cr_assert_eq(jr_lz4_unpack(zero, sizeof zero, 1024, &out), JR_EPROTO);
    /* A literal run longer than the block. */
    static const uint8_t lit[] = {16, 0, 0, 0, 0xf0, 0xff, 0x10, 'a'};
    cr_assert_eq(jr_lz4_unpack(lit, sizeof lit, 1024, &out), JR_EPROTO);
    cr_assert_eq(out.len, 0);

    /* Every byte of a real block flipped in turn: a flip in a literal
     * still decodes (LZ4 blocks carry no checksum), but nothing may
     * decode to another length, and ASan/valgrind watch the bounds. */
    uint8_t *raw;
    jr_buf b = packed_text(&raw);
    int rejected = 0;
    for (size_t i = 4; i < b.len; i++) {
        b.data[i] ^= 0xa5;
        out.len = 0;
        int rc = jr_lz4_unpack(b.data, b.len, RAW, &out);
        cr_assert(rc == 0 || rc == JR_EPROTO);
        cr_assert_eq(out.len, rc == 0 ? (size_t)RAW : 0);
        rejected += rc == JR_EPROTO;
        b.data[i] ^= 0xa5;
    }
    cr_assert_gt(rejected, 0);
    jr_buf_fini(&b);
    jr_buf_fini(&out);
    free(raw);
    jr_test_assert_clean();
}

Test(ipc, unpack_rejects_fewer_than_four_bytes_and_accepts_an_empty_block)
{
    jr_buf out = {0};
    static const uint8_t empty[] = {0, 0, 0, 0, 0x00};
    for (size_t len = 0; len < 4; len++)
        cr_assert_eq(jr_lz4_unpack(empty, len, 1024, &out), JR_EPROTO);
    cr_assert_eq(jr_lz4_unpack(empty, 4, 1024, &out), JR_EPROTO);
    cr_assert_eq(jr_lz4_unpack(empty, sizeof empty, 1024, &out), 0);
    cr_assert_eq(out.len, 0);
    jr_buf_fini(&out);
    jr_test_assert_clean();
}

/*-************************************
 *  Runtime directory
 **************************************/
static int is_prefix(const char *pre, const char *s)
{
    return strncmp(pre, s, strlen(pre)) == 0;
}

Test(ipc, runtime_dir_is_private_and_removed_by_rmdir)
{
    char xdg[] = "/tmp/jr-xdg.XXXXXX";
    cr_assert_not_null(mkdtemp(xdg));
    cr_assert_eq(setenv("XDG_RUNTIME_DIR", xdg, 1), 0);
    static const mode_t masks[] = {022, 0, 0277};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        mode_t old = umask(masks[i]);
        char dir[256];
        int rc = jr_ipc_rundir(dir, sizeof dir, getpid(), 1);
        umask(old);
        cr_assert_eq(rc, 0, "%s", jr_strerror(rc));
        char want[64];
        snprintf(want, sizeof want, "%s/jobrun.", xdg);
        cr_assert(is_prefix(want, dir), "%s not under %s", dir, xdg);
        struct stat st;
        cr_assert_eq(lstat(dir, &st), 0);
        cr_assert(S_ISDIR(st.st_mode));
        cr_assert_eq(st.st_mode & 07777, 0700, "umask %o gave %o",
                     (unsigned)masks[i], (unsigned)(st.st_mode & 07777));

        /* What a bound socket and a stray file would leave behind. */
        char path[300];
        snprintf(path, sizeof path, "%s/ctl", dir);
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        snprintf(path, sizeof path, "%s/stray", dir);
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        jr_ipc_rmdir(dir);
        cr_assert_eq(lstat(dir, &st), -1, "%s was left", dir);
        jr_ipc_rmdir(dir); /* idempotent */
    }
    jr_ipc_rmdir(NULL);
    jr_ipc_rmdir("");
    cr_assert_eq(rmdir(xdg), 0, "rundir left something in %s", xdg);
    jr_test_assert_clean();
}

/* jr_ipc_rundir() under /tmp, then removed. */
static void assert_falls_back_to_tmp(void)
{
    char dir[256];
    int rc = jr_ipc_rundir(dir, sizeof dir, getpid(), 1);
    cr_assert_eq(rc, 0, "%s", jr_strerror(rc));
    cr_assert(is_prefix("/tmp/jobrun.", dir), "%s", dir);
    jr_ipc_rmdir(dir);
    struct stat st;
    cr_assert_eq(lstat(dir, &st), -1);
}

Test(ipc, a_missing_relative_or_unusable_runtime_dir_falls_back_to_tmp)
{
    cr_assert_eq(unsetenv("XDG_RUNTIME_DIR"), 0);
    assert_falls_back_to_tmp();
    setenv("XDG_RUNTIME_DIR", "", 1);
    assert_falls_back_to_tmp();
    setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
    assert_falls_back_to_tmp();
    setenv("XDG_RUNTIME_DIR", "/nonexistent/jr-xdg", 1);
    assert_falls_back_to_tmp();
    setenv("XDG_RUNTIME_DIR", "/etc/passwd", 1); /* not a directory */
    assert_falls_back_to_tmp();
    jr_test_assert_clean();
}

Test(ipc, a_runtime_dir_too_long_for_a_socket_path_falls_back_to_tmp)
{
    /* An existing, writable directory whose endpoint would not fit in
     * sun_path (108 bytes): the documented choice is /tmp, not an
     * error. */
    char base[] = "/tmp/jr-long.XXXXXX";
    cr_assert_not_null(mkdtemp(base));
    char deep[300];
    snprintf(deep, sizeof deep, "%s/%0120d", base, 0);
    cr_assert_eq(mkdir(deep, 0700), 0);
    setenv("XDG_RUNTIME_DIR", deep, 1);
    assert_falls_back_to_tmp();

    /* The longest base that still fits is used as it is. */
    char fit[300];
    char tail[64]; /* what jr_ipc_rundir() adds: "/jobrun.PID.1.XXXXXX/ctl" */
    snprintf(tail, sizeof tail, "/jobrun.%d.1.XXXXXX/ctl", (int)getpid());
    size_t room = sizeof(((struct sockaddr_un *)0)->sun_path) - 1 -
                  strlen(tail) - strlen(base) - 1;
    snprintf(fit, sizeof fit, "%s/%0*d", base, (int)room, 0);
    cr_assert_eq(mkdir(fit, 0700), 0);
    setenv("XDG_RUNTIME_DIR", fit, 1);
    char dir[256], ep[256];
    cr_assert_eq(jr_ipc_rundir(dir, sizeof dir, getpid(), 1), 0);
    cr_assert(is_prefix(fit, dir), "%s", dir);
    cr_assert_eq(jr_ipc_endpoint(ep, sizeof ep, dir), 0);
    cr_assert_eq(strlen(ep), strlen("ipc://") + 107);
    jr_ipc_rmdir(dir);
    cr_assert_eq(rmdir(fit), 0);
    cr_assert_eq(rmdir(deep), 0);
    cr_assert_eq(rmdir(base), 0);
    jr_test_assert_clean();
}

Test(ipc, rundir_refuses_a_small_buffer_and_creates_nothing)
{
    char xdg[] = "/tmp/jr-xdg.XXXXXX";
    cr_assert_not_null(mkdtemp(xdg));
    setenv("XDG_RUNTIME_DIR", xdg, 1);
    char dir[16];
    cr_assert_eq(jr_ipc_rundir(dir, sizeof dir, getpid(), 1), JR_ENAMETOOLONG);
    cr_assert_eq(rmdir(xdg), 0, "something was created in %s", xdg);
    jr_test_assert_clean();
}

Test(ipc, endpoint_names_ctl_in_the_rundir_or_fails_with_enametoolong)
{
    char ep[256];
    cr_assert_eq(jr_ipc_endpoint(ep, sizeof ep, "/tmp/jobrun.abcdef"), 0);
    cr_assert_str_eq(ep, "ipc:///tmp/jobrun.abcdef/ctl");
    cr_assert_eq(jr_ipc_endpoint(ep, 10, "/tmp/jobrun.abcdef"),
                 JR_ENAMETOOLONG);
    char longdir[200];
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = '\0';
    cr_assert_eq(jr_ipc_endpoint(ep, sizeof ep, longdir), JR_ENAMETOOLONG);
    jr_test_assert_clean();
}

/* Payloads are packed only where LZ4 pays: between machines. */
Test(ipc, payloads_are_packed_over_tcp_and_travel_raw_on_one_machine)
{
    char ep[256];
    cr_assert_eq(jr_ipc_endpoint(ep, sizeof ep, "/tmp/jobrun.abcdef"), 0);
    cr_assert_eq(jr_ipc_pack_flag(ep), 0);
    cr_assert_eq(jr_ipc_pack_flag("inproc://jobrun"), 0);
    cr_assert_eq(jr_ipc_pack_flag("tcp://10.0.0.2:5555"), JR_MSGF_LZ4);
}

/*-************************************
 *  Sockets
 **************************************/
Test(ipc, sockopts_sets_linger_maxmsgsize_and_hwm)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    cr_assert_eq(jr_ipc_sockopts(s), 0);
    int v;
    int64_t v64;
    size_t n = sizeof v;
    zmq_getsockopt(s, ZMQ_LINGER, &v, &n);
    cr_assert_eq(v, 0);
    n = sizeof v;
    zmq_getsockopt(s, ZMQ_SNDHWM, &v, &n);
    cr_assert_eq(v, 100000);
    n = sizeof v;
    zmq_getsockopt(s, ZMQ_RCVHWM, &v, &n);
    cr_assert_eq(v, 100000);
    n = sizeof v64;
    zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &v64, &n);
    cr_assert_eq(v64, JR_MSG_MAX);
    zmq_close(s);
    zmq_ctx_term(ctx);
    jr_test_assert_clean();
}

/* Receive one frame into msg; @return its size. */
static size_t recv_frame(void *s, zmq_msg_t *msg)
{
    cr_assert_geq(zmq_msg_recv(msg, s, 0), 0, "%s", zmq_strerror(zmq_errno()));
    return zmq_msg_size(msg);
}

Test(ipc, send_frames_messages_and_packs_only_what_pays)
{
    char dir[256], ep[300];
    unsetenv("XDG_RUNTIME_DIR");
    /* Our real start time: a directory in /tmp named for a live pid with
     * another start time is a dead master's to every jobrun that sweeps
     * (ctest runs other suites at the same time), and went away under
     * this test once, leaving the dealer connecting to nothing. */
    uint64_t start;
    cr_assert_eq(jr_proc_start_time(getpid(), &start), 0);
    cr_assert_eq(jr_ipc_rundir(dir, sizeof dir, getpid(), start), 0);
    cr_assert_eq(jr_ipc_endpoint(ep, sizeof ep, dir), 0);
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int one = 1;
    cr_assert_eq(jr_ipc_sockopts(router), 0);
    cr_assert_eq(jr_ipc_sockopts(dealer), 0);
    zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "w1", 2);
    cr_assert_eq(zmq_bind(router, ep), 0, "%s", zmq_strerror(zmq_errno()));
    cr_assert_eq(zmq_connect(dealer, ep), 0);

    /* Worker to master: no identity; the ROUTER prepends the peer's. */
    uint32_t pid = 1234;
    jr_msg hello = {.type = JR_MSG_HELLO, .worker = 1,
                    .payload = (const uint8_t *)&pid, .len = 4};
    cr_assert_eq(jr_ipc_send(dealer, NULL, 0, &hello), 0);
    zmq_msg_t f;
    zmq_msg_init(&f);
    cr_assert_eq(recv_frame(router, &f), 2);
    cr_assert_eq(memcmp(zmq_msg_data(&f), "w1", 2), 0);
    cr_assert(zmq_msg_more(&f));
    jr_msg m;
    size_t n = recv_frame(router, &f);
    cr_assert_eq(jr_msg_decode(zmq_msg_data(&f), n, &m), 0);
    cr_assert_eq(m.type, JR_MSG_HELLO);
    cr_assert_eq(m.len, 4);
    cr_assert_eq(memcmp(m.payload, &pid, 4), 0);

    /* Master to worker, three payloads, each asking for LZ4. */
    enum { N = 128 * 1024 };
    uint8_t *text = malloc(N), *noise = malloc(N);
    fill_text(text, N);
    fill_noise(noise, N);
    struct {
        const uint8_t *p;
        size_t len;
        int packs;
    } cases[] = {{text, N, 1}, {noise, N, 0}, {text, 100, 0}};
    for (size_t i = 0; i < 3; i++) {
        jr_msg t = {.type = JR_MSG_TASK, .flags = JR_MSGF_LZ4, .worker = 1,
                    .task = i, .attempt = 1, .payload = cases[i].p,
                    .len = cases[i].len};
        cr_assert_eq(jr_ipc_send(router, "w1", 2, &t), 0);
        n = recv_frame(dealer, &f);
        cr_assert_not(zmq_msg_more(&f));
        cr_assert_eq(jr_msg_decode(zmq_msg_data(&f), n, &m), 0);
        cr_assert_eq(m.task, i);
        jr_buf got = {0};
        if (cases[i].packs) {
            cr_assert_eq(m.flags, JR_MSGF_LZ4);
            cr_assert_lt(m.len, cases[i].len);
            cr_assert_eq(jr_lz4_unpack(m.payload, m.len, N, &got), 0);
        } else {
            cr_assert_eq(m.flags, 0, "case %zu kept the LZ4 flag", i);
            cr_assert_eq(jr_buf_append(&got, m.payload, m.len), 0);
        }
        cr_assert_eq(got.len, cases[i].len);
        cr_assert_eq(memcmp(got.data, cases[i].p, got.len), 0);
        jr_buf_fini(&got);
    }

    /* ROUTER_MANDATORY: a peer that does not exist is an error. */
    jr_msg stop = {.type = JR_MSG_STOP};
    cr_assert_eq(jr_ipc_send(router, "nobody", 6, &stop), -EHOSTUNREACH);

    /* Too big for any peer's ZMQ_MAXMSGSIZE, and not packable. */
    uint8_t *big = calloc(1, JR_MSG_MAX);
    cr_assert_not_null(big);
    jr_msg huge = {.type = JR_MSG_DONE, .payload = big,
                   .len = JR_MSG_MAX - JR_MSG_HDR + 1};
    cr_assert_eq(jr_ipc_send(dealer, NULL, 0, &huge), -EMSGSIZE);
    free(big);

    zmq_msg_close(&f);
    free(text);
    free(noise);
    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
    jr_ipc_rmdir(dir);
    struct stat st;
    cr_assert_eq(lstat(dir, &st), -1);
    jr_test_assert_clean();
}
