/*
 * test_factor.c - the factor job: each arithmetic kernel alone (Montgomery
 * products, Miller-Rabin, BPSW, rho, ECM, the sieve), parsing and
 * formatting, the text scanner and generator, then whole outputs compared
 * byte for byte with coreutils factor run on the same numbers.
 *
 * coreutils 9.1 prints numbers at or above 2^127 before the lines it has
 * buffered (they take its GMP path), so those are compared in a run of
 * their own; jobrun keeps input order.
 */
#include "tests/factor/harness.h"

/*-************************************
 *  Montgomery arithmetic
 **************************************/
Test(factor, montgomery64_agrees_with_plain_modular_products)
{
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t n = jr_factor_random(1, i, 3, UINT64_MAX) | 1;
        if (i % 4 == 0)
            n = UINT64_MAX - 2 * (i % 50); /* the top of the range */
        uint64_t a = jr_factor_random(2, i, 0, n - 1);
        uint64_t b = jr_factor_random(3, i, 0, n - 1);
        jr_mont64 m;
        jr_mont64_init(&m, n);
        uint64_t am = jr_mont64_to(&m, a), bm = jr_mont64_to(&m, b);
        cr_assert_eq(jr_mont64_from(&m, jr_mont64_mul(&m, am, bm)),
                     (uint64_t)((jr_u128)a * b % n));
        cr_assert_eq(jr_mont64_from(&m, jr_mont64_add(&m, am, bm)),
                     (uint64_t)(((jr_u128)a + b) % n));
        cr_assert_eq(jr_mont64_from(&m, jr_mont64_sub(&m, am, bm)),
                     (uint64_t)(((jr_u128)a + n - b) % n));
    }
    jr_mont64 m;
    jr_mont64_init(&m, 1000000007);
    uint64_t x = jr_mont64_pow(&m, jr_mont64_to(&m, 3), 1000000006);
    cr_assert_eq(jr_mont64_from(&m, x), 1); /* Fermat */
}

Test(factor, montgomery128_agrees_with_slow_modular_products)
{
    for (uint64_t i = 0; i < 2000; i++) {
        jr_u128 n = random_bits(4, i, 65 + (unsigned)(i % 64)) | 1;
        jr_u128 a = random_bits(5, i, 128) % n, b = random_bits(6, i, 100) % n;
        jr_mont128 m;
        jr_mont128_init(&m, n);
        jr_u128 am = jr_mont128_to(&m, a), bm = jr_mont128_to(&m, b);
        cr_assert(jr_mont128_from(&m, jr_mont128_mul(&m, am, bm)) ==
                  mulmod_slow(a, b, n));
        jr_u128 s = jr_mont128_from(&m, jr_mont128_add(&m, am, bm));
        cr_assert(s == (a >= n - b ? a - (n - b) : a + b));
    }
}

/*-************************************
 *  Primality
 **************************************/
Test(factor, miller_rabin_agrees_with_a_sieve_below_two_million)
{
    enum { N = 2000000 };
    uint8_t *comp = calloc(N, 1);
    comp[0] = comp[1] = 1;
    for (uint32_t p = 2; p * p < N; p++)
        if (!comp[p])
            for (uint32_t q = p * p; q < N; q += p)
                comp[q] = 1;
    for (uint32_t n = 0; n < N; n++)
        cr_assert_eq(jr_factor_is_prime64(n), !comp[n], "n = %u", n);
    free(comp);
}

Test(factor, miller_rabin_rejects_strong_pseudoprimes_and_carmichaels)
{
    static const uint64_t bad[] = {
        2047, 1373653, 25326001, 3215031751u, 2152302898747u, 3474749660383u,
        341550071728321u, 3825123056546413051u, 561, 41041, 825265, 321197185,
        5394826801u, 232250619601u, 9746347772161u, 1436697831295441u,
        60977817398996785u, 7156857700403137441u,
        /* composites that divide a base of their own tier */
        991u * 991 * 1931, 3075593u * 3075593u, 14347u * 14683, 56197u * 56197,
        62633u * 62633, 2422837u * 2422837u, (uint64_t)322232233 * 3721305949u,
        4294967291u * 4294967291u, (uint64_t)4294967279u * 4294967291u};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_not(jr_factor_is_prime64(bad[i]), "%llu",
                      (unsigned long long)bad[i]);
}

Test(factor, miller_rabin_accepts_primes_at_every_tier)
{
    /* clang-format off */
    static const uint64_t good[] = { /* both sides of each tier's bound */
        341521, 341543, 1050535457, 1050535529, 350269456307u, 350269456343u,
        55245642489431u, 55245642489463u, 7999252175582839u, 7999252175582869u,
        585226005592931861u, 585226005592932043u, 2305843009213693951u,
        9223372036854775783u, 18446744073709551557u};
    /* clang-format on */
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_assert(jr_factor_is_prime64(good[i]), "%llu",
                  (unsigned long long)good[i]);
}

Test(factor, bpsw_accepts_big_primes_and_rejects_pseudoprimes)
{
    static const char *primes[] = {
        "170141183460469231731687303715884105727", /* 2^127 - 1 */
        "340282366920938463463374607431768211297", /* below 2^128 */
        "618970019642690137449562111",             /* 2^89 - 1 */
        "162259276829213363391578010288127",       /* 2^107 - 1 */
        "18446744073709551629",                    /* above 2^64 */
        "170141183460469231731687303715884105757"};
    static const char *composites[] = {
        "318665857834031151167461",               /* spsp to bases 2..37 */
        "3317044064679887385961981",              /* spsp to bases 2..41 */
        "1494567203952363107041",                 /* Carmichael, 3 factors */
        "1791562810662585767521",                 /* Carmichael, 13 factors */
        "340282366920938463463374607431768211455" /* 2^128 - 1 */
    };
    for (size_t i = 0; i < sizeof primes / sizeof *primes; i++)
        cr_assert(jr_factor_is_prime128(u128(primes[i])), "%s", primes[i]);
    for (size_t i = 0; i < sizeof composites / sizeof *composites; i++)
        cr_assert_not(jr_factor_is_prime128(u128(composites[i])), "%s",
                      composites[i]);
    jr_u128 p = u128("18446744073709551557"), q = u128("18446744073709551533");
    cr_assert_not(jr_factor_is_prime128(p * p));
    cr_assert_not(jr_factor_is_prime128(p * q));
}

Test(factor, lucas_half_passes_known_strong_lucas_pseudoprimes)
{
    /* OEIS A217255: composites the strong Lucas test lets through.  That
     * ours does too shows it computes the textbook sequence; base 2
     * stops them in BPSW. */
    static const uint64_t slpsp[] = {5459,  5777,  10877, 16109, 18971,
                                     22499, 24569, 25199, 40309, 58519};
    for (size_t i = 0; i < sizeof slpsp / sizeof *slpsp; i++) {
        cr_assert(jr_factor_lucas128(slpsp[i]), "%llu",
                  (unsigned long long)slpsp[i]);
        cr_assert_not(jr_factor_is_prime64(slpsp[i]));
    }
    cr_assert(jr_factor_lucas128(1000003));
    cr_assert_not(jr_factor_lucas128(1000001));
}

Test(factor, roots_and_jacobi_are_exact)
{
    cr_assert_eq(jr_isqrt128(JR_U128_MAX), UINT64_MAX);
    cr_assert_eq(jr_isqrt128((jr_u128)UINT64_MAX * UINT64_MAX), UINT64_MAX);
    cr_assert_eq(jr_isqrt128((jr_u128)UINT64_MAX * UINT64_MAX - 1),
                 UINT64_MAX - 1);
    cr_assert_eq(jr_isqrt128(UINT64_MAX), UINT32_MAX);
    for (uint64_t r = 1; r < 100000; r += 7) {
        cr_assert_eq(jr_isqrt128(r * r), r);
        cr_assert_eq(jr_isqrt128(r * r - 1), r - 1);
    }
    jr_u128 c = (jr_u128)4398046511093u * 4398046511093u * 4398046511093u;
    cr_assert(jr_iroot128(c, 3) == 4398046511093u);
    cr_assert(jr_iroot128(c - 1, 3) == 4398046511092u);
    cr_assert(jr_iroot128(JR_U128_MAX, 5) == 50859008);
    for (uint32_t p = 3; p < 200; p += 2)
        for (uint32_t a = 0; a < p; a++) {
            jr_mont64 m;
            jr_mont64_init(&m, p);
            uint64_t e = jr_mont64_from(
                &m, jr_mont64_pow(&m, jr_mont64_to(&m, a), (p - 1) / 2));
            if (jr_factor_is_prime64(p))
                cr_assert_eq(jr_jacobi128(a, p), a == 0 ? 0 : e == 1 ? 1 : -1);
        }
}

/*-************************************
 *  Splitting
 **************************************/
Test(factor, rho_ecm_and_sieve_split_semiprimes)
{
    uint64_t p = 4294967291u, q = 4294967279u, r = 2147483647;
    uint64_t d = jr_factor_rho64(p * q, 1);
    cr_assert(d == p || d == q);
    d = jr_factor_ecm64(p * r, 1000);
    cr_assert(d == p || d == r);
    jr_u128 n = (jr_u128)1000000007 * u128("18446744073709551557");
    jr_u128 e = jr_factor_rho128(n, 1, 0);
    cr_assert(e == 1000000007 || e == n / 1000000007);
    jr_u128 hard = u128("9223372036854775783") * u128("9223372036854775643");
    cr_assert(jr_factor_rho128(hard, 1, 1000) == 1);        /* gives up */
    jr_u128 big = u128("11417570323580786035943065325183"); /* 2 x 52 bits */
    jr_u128 f;
    cr_assert_eq(jr_factor_qs(big, &f), 0);
    cr_assert(f > 1 && f < big && big % f == 0);
    cr_assert_eq(jr_factor_qs(1000003, &f), JR_EINVAL); /* below 2^40 */
}

Test(factor, products_of_two_63_bit_primes_come_apart)
{
    /* Too slow for coreutils (2^31 rho steps); the sieve takes ~20 ms. */
    static const char *pq[][2] = {
        {"9223372036854775783", "9223372036854775643"},
        {"4611686018427388039", "9223372036854775337"},
        {"5000000000000000003", "7000000000000000013"}};
    for (size_t i = 0; i < sizeof pq / sizeof *pq; i++) {
        jr_u128 a = u128(pq[i][0]), b = u128(pq[i][1]), f[JR_FACTOR_MAX];
        cr_assert(jr_factor_is_prime128(a) && jr_factor_is_prime128(b));
        cr_assert_eq(jr_factor(a * b, f), 2);
        cr_assert(f[0] == (a < b ? a : b) && f[1] == (a < b ? b : a));
    }
}

Test(factor, factors_come_out_sorted_and_multiply_back)
{
    for (uint64_t i = 0; i < 3000; i++) {
        jr_u128 n = random_bits(9, i, 20 + (unsigned)(i % 100)),
                f[JR_FACTOR_MAX];
        int nf = jr_factor(n, f);
        cr_assert_gt(nf, 0);
        jr_u128 prod = 1;
        for (int j = 0; j < nf; j++) {
            cr_assert(j == 0 || f[j - 1] <= f[j]);
            cr_assert(jr_factor_is_prime128(f[j]));
            prod *= f[j];
        }
        cr_assert(prod == n);
    }
    jr_u128 f[JR_FACTOR_MAX];
    cr_assert_eq(jr_factor(0, f), 0);
    cr_assert_eq(jr_factor(1, f), 0);
    cr_assert_eq(jr_factor((jr_u128)1 << 127, f), 127);
    jr_u128 p = 4294967311u; /* the first prime above 2^32 */
    cr_assert_eq(jr_factor(p * p * p, f), 3);
    cr_assert(f[2] == p);
}

/*-************************************
 *  Tokens and lines
 **************************************/
Test(factor, parse_accepts_digits_after_one_optional_plus)
{
    jr_u128 v;
    cr_assert_eq(parse("+5", &v), 0);
    cr_assert(v == 5);
    cr_assert_eq(parse("007", &v), 0);
    cr_assert(v == 7);
    cr_assert_eq(parse("+0", &v), 0);
    cr_assert(v == 0);
    cr_assert_eq(parse("340282366920938463463374607431768211455", &v), 0);
    cr_assert(v == JR_U128_MAX);
    cr_assert_eq(parse("0000000000000000000000000000000000000000000000012", &v),
                 0);
    cr_assert(v == 12);
}

Test(factor, parse_refuses_what_coreutils_refuses)
{
    /* Checked against coreutils 9.1: all are "not a valid positive
     * integer" there. */
    static const char *bad[] = {"",    "+",     "++5",      "-5",   "-0",
                                "1.5", "0x10",  "abc",      "5a",   "+-1",
                                "1e3", "1,000", "\xd9\xa3", "5\x01"};
    jr_u128 v;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(parse(bad[i], &v), JR_EINVAL, "'%s'", bad[i]);
}

Test(factor, parse_calls_2_to_the_128_too_large_unless_invalid)
{
    jr_u128 v;
    cr_assert_eq(parse("340282366920938463463374607431768211456", &v),
                 JR_ERANGE);
    cr_assert_eq(parse("+999999999999999999999999999999999999999999", &v),
                 JR_ERANGE);
    cr_assert_eq(parse("99999999999999999999999999999999999999999x", &v),
                 JR_EINVAL);
}

Test(factor, token_fed_in_pieces_reads_like_the_whole)
{
    /* clang-format off */
    static const char *toks[] = {
        "+5", "007", "-5", "+", "12x",
        "340282366920938463463374607431768211455",
        "340282366920938463463374607431768211456"};
    /* clang-format on */
    for (size_t i = 0; i < sizeof toks / sizeof *toks; i++) {
        const uint8_t *p = (const uint8_t *)toks[i];
        size_t len = strlen(toks[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            jr_factor_tok t;
            jr_factor_tok_init(&t);
            jr_factor_tok_feed(&t, p, cut);
            jr_factor_tok_feed(&t, p + cut, len - cut);
            jr_u128 a, b;
            cr_assert_eq(jr_factor_tok_end(&t, &a), parse(toks[i], &b));
            cr_assert(a == b);
        }
    }
}

Test(factor, messages_escape_odd_bytes_and_cut_long_tokens)
{
    cr_assert_str_eq(message("-5", 2), "'-5' is not a valid positive integer");
    cr_assert_str_eq(message("a\001b'\\\xc3", 6),
                     "'a\\x01b\\'\\\\\\xc3' is not a valid positive integer");
    cr_assert_str_eq(message("340282366920938463463374607431768211456", 39),
                     "'340282366920938463463374607431768211456' is too large "
                     "to factor (2^128 or more)");
    char big[1000];
    memset(big, '9', sizeof big);
    char want[200];
    snprintf(want, sizeof want,
             "'%.64s...' (1000 bytes) is too large to factor (2^128 or more)",
             big);
    cr_assert_str_eq(message(big, sizeof big), want);
    char small[8];
    jr_factor_tok t;
    jr_factor_tok_init(&t);
    jr_factor_tok_feed(&t, (const uint8_t *)"x", 1);
    cr_assert_eq(jr_factor_tok_message(&t, JR_EINVAL, small, sizeof small), 7);
    cr_assert_str_eq(small, "'x' is ");
}

Test(factor, numbers_and_lines_print_like_coreutils)
{
    /* clang-format off */
    static const char *nums[] = {
        "0", "1", "9", "10", "99", "100", "18446744073709551615",
        "18446744073709551616", "10000000000000000000", "9999999999999999999",
        "100000000000000000000000000000000000000",
        "340282366920938463463374607431768211455"};
    /* clang-format on */
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        char buf[48];
        size_t n = jr_u128_format(buf, u128(nums[i]));
        buf[n] = '\0';
        cr_assert_str_eq(buf, nums[i]);
    }
    char line[JR_FACTOR_LINE_MAX + 1];
    jr_u128 f[] = {2, 2, 3};
    line[jr_factor_format(line, 12, f, 3)] = '\0';
    cr_assert_str_eq(line, "12: 2 2 3\n");
    line[jr_factor_format(line, 0, f, 0)] = '\0';
    cr_assert_str_eq(line, "0:\n");
}

/*-************************************
 *  Text chunks
 **************************************/
Test(factor, text_splits_tokens_on_every_ascii_whitespace)
{
    uint64_t nl;
    capture c = chunk(" 12\t13\n\n\v14\f15\r16 +17 007\n", 0, NULL, &nl);
    cr_assert_str_eq(c.out, "12: 2 2 3\n13: 13\n14: 2 7\n15: 3 5\n"
                            "16: 2 2 2 2\n17: 17\n7: 7\n");
    cr_assert_str_eq(c.rep, "");
    cr_assert_eq(nl, 3);
    cap_free(&c);
}

Test(factor, text_reports_bad_tokens_at_their_line_and_goes_on)
{
    uint64_t nl;
    capture c = chunk("4\n-5 6\n\n1.5\nabc 0x10\n"
                      "340282366920938463463374607431768211456 8",
                      0, NULL, &nl);
    cr_assert_str_eq(c.out, "4: 2 2\n6: 2 3\n8: 2 2 2\n");
    cr_assert_str_eq(c.rep,
                     "1: '-5' is not a valid positive integer\n"
                     "3: '1.5' is not a valid positive integer\n"
                     "4: 'abc' is not a valid positive integer\n"
                     "4: '0x10' is not a valid positive integer\n"
                     "5: '340282366920938463463374607431768211456' is too "
                     "large to factor (2^128 or more)\n");
    cr_assert_eq(nl, 5);
    cap_free(&c);
}

Test(factor, text_leaves_the_token_its_predecessor_began)
{
    uint64_t nl;
    capture c = chunk("23 45\n6", 1, NULL, &nl);
    cr_assert_str_eq(c.out, "45: 3 3 5\n6: 2 3\n");
    cap_free(&c);
    c = chunk("2345", 1, NULL, &nl);
    cr_assert_str_eq(c.out, "");
    cr_assert_eq(nl, 0);
    cap_free(&c);
}

Test(factor, text_reads_past_its_end_for_its_last_token)
{
    uint64_t nl;
    capture c = chunk("1\n2", 0, "34 5\n", &nl);
    cr_assert_str_eq(c.out, "1:\n234: 2 3 3 13\n");
    cr_assert_eq(nl, 1); /* its own bytes only */
    cap_free(&c);
}

Test(factor, text_refuses_an_endless_token_in_bounded_memory)
{
    size_t n = 100000;
    char *rest = malloc(n + 3);
    memset(rest, '1', n);
    memcpy(rest + n, " 9", 3);
    uint64_t nl;
    capture c = chunk("7 1", 0, rest, &nl);
    cr_assert_str_eq(c.out, "7: 7\n");
    char want[256];
    snprintf(want, sizeof want,
             "0: '%.64s...' (%zu bytes) is too large to factor (2^128 or "
             "more)\n",
             rest, n + 1);
    cr_assert_str_eq(c.rep, want);
    cap_free(&c);
    memset(rest, '0', n); /* leading zeros: just 12 */
    memcpy(rest + n - 2, "12 9", 5);
    c = chunk("0", 0, rest, &nl);
    cr_assert_str_eq(c.out, "12: 2 2 3\n");
    cap_free(&c);
    free(rest);
}

Test(factor, chunks_cut_anywhere_give_the_whole_output)
{
    const char *text = "12 +7\t-3\n\n0007 100000000000000000039 x9\n"
                       "18446744073709551617\n1 2\n";
    uint64_t nl;
    capture whole = chunk(text, 0, NULL, &nl);
    for (size_t cut = 0; cut <= strlen(text); cut++) {
        char *a = strndup(text, cut);
        uint64_t la, lb;
        capture ca = chunk(a, 0, text + cut, &la);
        int mid = cut > 0 && !jr_factor_is_space((uint8_t)text[cut - 1]);
        capture cb = chunk(text + cut, mid, NULL, &lb);
        cr_assert_eq(la + lb, nl);
        char *out = NULL, *rep = NULL;
        size_t no = 0, nr = 0;
        cat(&out, &no, ca.out, ca.nout);
        cat(&out, &no, cb.out, cb.nout);
        cr_assert_str_eq(out, whole.out, "cut at %zu", cut);
        /* Reports of b move down by a's lines. */
        cat(&rep, &nr, ca.rep, ca.nrep);
        for (char *r = cb.rep; *r;) {
            char *end = strchr(r, '\n');
            char line[256];
            int k = snprintf(line, sizeof line, "%llu%.*s",
                             strtoull(r, NULL, 10) + (unsigned long long)la,
                             (int)(end + 1 - strchr(r, ':')), strchr(r, ':'));
            cat(&rep, &nr, line, (size_t)k);
            r = end + 1;
        }
        cr_assert_str_eq(rep ? rep : "", whole.rep, "cut at %zu", cut);
        free(out);
        free(rep);
        free(a);
        cap_free(&ca);
        cap_free(&cb);
    }
    cap_free(&whole);
}

Test(factor, split_ends_chunks_after_whitespace)
{
    const uint8_t *b = (const uint8_t *)"12 34\n56";
    cr_assert_eq(jr_factor_split(b, 8, 0), 6);
    cr_assert_eq(jr_factor_split(b, 8, 1), 8);
    cr_assert_eq(jr_factor_split(b, 2, 0), 0);
    cr_assert_eq(jr_factor_split(b, 3, 0), 3);
    cr_assert_eq(jr_job_factor.split, jr_factor_split);
    cr_assert_str_eq(jr_job_factor.name, "factor");
    cr_assert_eq(jr_job_factor.lookback, 1);
}

/*-************************************
 *  The generated workload
 **************************************/
Test(factor, random_numbers_depend_on_seed_and_index_alone)
{
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t v = jr_factor_random(42, i, 20000, 100000000);
        cr_assert(v >= 20000 && v <= 100000000);
        cr_assert_eq(v, jr_factor_random(42, i, 20000, 100000000));
        cr_assert_eq(jr_factor_random(42, i, 7, 7), 7);
        cr_assert_geq(jr_factor_random(42, i, UINT64_MAX - 3, UINT64_MAX),
                      UINT64_MAX - 3);
    }
    cr_assert_neq(jr_factor_random(1, 0, 0, UINT64_MAX),
                  jr_factor_random(2, 0, 0, UINT64_MAX));
    /* Uniform enough: ten buckets of 100000 draws within 5 sigma. */
    unsigned count[10] = {0};
    for (uint64_t i = 0; i < 100000; i++)
        count[jr_factor_random(7, i, 0, 9)]++;
    for (int k = 0; k < 10; k++)
        cr_assert(count[k] > 10000 - 480 && count[k] < 10000 + 480,
                  "bucket %d: %u", k, count[k]);
}

Test(factor, range_factors_the_drawn_numbers_in_order)
{
    struct jr_factor_params pa = {99, 1000, 1000000};
    capture c;
    jr_factor_sink s = cap_sink(&c);
    cr_assert_eq(jr_factor_range(&pa, 500, 300, &s), 0);
    char *want = NULL;
    size_t nw = 0;
    for (uint64_t i = 500; i < 800; i++) {
        jr_u128 f[JR_FACTOR_MAX], n = jr_factor_random(99, i, 1000, 1000000);
        char line[JR_FACTOR_LINE_MAX];
        cat(&want, &nw, line, jr_factor_format(line, n, f, jr_factor(n, f)));
    }
    cr_assert_str_eq(c.out, want);
    cr_assert_geq(c.beats, 1);
    free(want);
    cap_free(&c);
    pa.min = 10;
    pa.max = 9;
    c = (capture){0};
    cr_assert_eq(jr_factor_range(&pa, 0, 1, &s), JR_EINVAL);
}

/*-************************************
 *  Against coreutils factor
 **************************************/
Test(factor, matches_coreutils_on_random_numbers_below_2_to_the_127)
{
    static const struct {
        unsigned bits, count;
    } ranges[] = {{12, 500}, {27, 3000}, {40, 1000}, {64, 3000}, {64, 2000},
                  {72, 200}, {84, 60},   {96, 30},   {110, 10},  {127, 8}};
    char *text = NULL;
    size_t len = 0;
    for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++)
        for (uint64_t i = 0; i < ranges[r].count; i++)
            put_number(&text, &len, random_bits(1000 + r, i, ranges[r].bits));
    same_as_coreutils(text);
    free(text);
}

Test(factor, matches_coreutils_from_2_to_the_127_to_2_to_the_128)
{
    char *text = NULL;
    size_t len = 0;
    /* coreutils spends minutes on some 128-bit numbers (rho on two
     * 50-bit factors); these seeds draw ones it does in 0.3 s. */
    for (uint64_t i = 0; i < 6; i++) {
        put_number(&text, &len, random_bits(80, i, 128));
        put_number(&text, &len, random_bits(86, i, 128));
    }
    put_number(&text, &len, JR_U128_MAX);
    put_number(&text, &len, (jr_u128)1 << 127);
    put_number(&text, &len, u128("340282366920938463463374607431768211297"));
    same_as_coreutils(text);
    free(text);
}

Test(factor, matches_coreutils_on_prime_powers_and_edges)
{
    char *text = NULL;
    size_t len = 0;
    static const unsigned sq[] = {16, 32}, cu[] = {11, 21};
    for (int i = 0; i < 2; i++) {
        jr_u128 lo, hi;
        near((jr_u128)1 << (2 * sq[i]), &lo, &hi);
        put_number(&text, &len, lo);
        put_number(&text, &len, hi);
        near((jr_u128)1 << sq[i], &lo, &hi);
        put_number(&text, &len, lo * lo);
        put_number(&text, &len, hi * hi);
        put_number(&text, &len, lo * hi);
        near((jr_u128)1 << cu[i], &lo, &hi);
        put_number(&text, &len, lo * lo * lo);
        put_number(&text, &len, hi * hi * hi);
        put_number(&text, &len, lo * lo * hi);
    }
    /* clang-format off */
    static const char *edges[] = {
        "0", "1", "2", "3", "4", "18446744073709551615",
        "18446744073709551616", "18446744073709551617",
        "170141183460469231731687303715884105727", "4294967295", "4294967296",
        "4294967297", "9223372036854775808",
        "85070591730234615865843651857942052864" /* 2^126 */};
    /* clang-format on */
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        cat(&text, &len, edges[i], strlen(edges[i]));
        cat(&text, &len, "\n", 1);
    }
    same_as_coreutils(text);
    free(text);
}

Test(factor, matches_coreutils_on_semiprimes_of_32_bit_primes)
{
    char *text = NULL;
    size_t len = 0;
    for (uint64_t i = 0; len < 300 * 21; i++) {
        uint64_t p = jr_factor_random(5, 2 * i, 1u << 31, UINT32_MAX);
        uint64_t q = jr_factor_random(5, 2 * i + 1, 1u << 31, UINT32_MAX);
        for (; !jr_factor_is_prime64(p); p++)
            ;
        for (; !jr_factor_is_prime64(q); q++)
            ;
        put_number(&text, &len, (jr_u128)p * q);
    }
    same_as_coreutils(text);
    free(text);
}

Test(factor, matches_coreutils_on_layout_oddities)
{
    same_as_coreutils("  007\n+5\t\t12  \n\n\n 1 2 3 4 5 6 7 8 9 10 11\n+0\n"
                      "0000000000000000000000000000000000000000000000000012\n"
                      "\t\t18446744073709551617\t1\n\n \n"
                      "+000000000000000000000000000000018446744073709551557\n");
}
