/*
 * Unit tests of common/membership.c: the text form round-trips (plain,
 * learners, joint, addresses), malformed text is refused, and the joint
 * majority rule needs both sets while learners never count; a refused
 * resend is told apart from a real refusal (membership_op_done).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/membership.h"
#include "common/msg.h"

static void roundtrip(const char *text)
{
    struct membership c;
    assert_int_equal(membership_decode((const uint8_t *)text, strlen(text), &c),
                     ERR_OK);
    char out[MEMBERSHIP_TEXT_MAX];
    membership_encode(&c, out, sizeof out);
    assert_string_equal(out, text);
}

/* Rule: the readable text of DESIGN.md decodes and encodes back. */
static void test_membership_text_roundtrips(void **state)
{
    (void)state;
    roundtrip("voters 1,2,3");
    roundtrip("voters 1,2,3 learners 4");
    roundtrip("joint 1,2,3 -> 1,2,4");
    roundtrip("joint 1,2,3 -> 1,2,4 learners 5 @ 1=127.0.0.1:7001 "
              "4=127.0.0.1:7004");
}

/* Rule: anything else is refused. */
static void test_membership_refuses_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",        "voters",         "voters 1,,2",      "voters 0",
        "joint 1", "voters 1 x",     "voters 1 @ 2=a:1", "voters 1 learners 1",
        "voters 1 @ 1", "joint 1,2 - 3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct membership c;
        assert_int_not_equal(
            membership_decode((const uint8_t *)bad[i], strlen(bad[i]), &c),
            ERR_OK);
    }
}

/* Rule: thesis 4.3, separate majorities; learners never count. */
static void test_membership_joint_quorum(void **state)
{
    (void)state;
    struct membership c;
    const char *t = "joint 1,2,3 -> 1,4,5 learners 6";
    assert_int_equal(membership_decode((const uint8_t *)t, strlen(t), &c),
                     ERR_OK);
    bool ok[RAFT_NODES_MAX] = {false};
    /* Members in order of first appearance: 1 2 3 4 5 6. */
    ok[0] = ok[1] = true; /* 1, 2: the old majority only. */
    assert_false(membership_quorum(&c, ok));
    ok[3] = true; /* 4: now 1, 4 of the new set too. */
    assert_true(membership_quorum(&c, ok));
    memset(ok, 0, sizeof ok);
    ok[0] = ok[5] = true; /* 1 and the learner 6. */
    assert_false(membership_quorum(&c, ok));
    assert_true(membership_is_voter(&c, 3));
    assert_false(membership_is_voter(&c, 6));
}

static struct membership conf_of(const char *t)
{
    struct membership c;
    assert_int_equal(membership_decode((const uint8_t *)t, strlen(t), &c),
                     ERR_OK);
    return c;
}

/* raftctl's resend rule: a request refused because its first answer was
 * lost shows in the configuration as started or done; one refused for a
 * real reason (someone else's change, a change undone) does not. */
static void test_membership_op_done(void **state)
{
    (void)state;
    struct membership before = conf_of("voters 1,2,3 learners 4");
    struct membership joint_promote = conf_of("joint 1,2,3 -> 1,2,3,4");
    struct membership promoted = conf_of("voters 1,2,3,4");
    struct membership joint_remove = conf_of("joint 1,2,3 -> 1,3 learners 4");
    struct membership removed = conf_of("voters 1,3 learners 4");
    struct membership added = conf_of("voters 1,2,3 learners 4,5");
    assert_true(membership_op_done(&before, &joint_promote,
                                   FAULT_MEMBER_PROMOTE, 4));
    assert_true(membership_op_done(&before, &promoted, FAULT_MEMBER_PROMOTE, 4));
    assert_false(membership_op_done(&before, &before, FAULT_MEMBER_PROMOTE, 4));
    assert_false(membership_op_done(&before, &joint_remove,
                                    FAULT_MEMBER_PROMOTE, 4));
    assert_true(membership_op_done(&before, &joint_remove,
                                   FAULT_MEMBER_REMOVE, 2));
    assert_true(membership_op_done(&before, &removed, FAULT_MEMBER_REMOVE, 2));
    assert_false(membership_op_done(&before, &joint_remove,
                                    FAULT_MEMBER_REMOVE, 3));
    assert_false(membership_op_done(&removed, &removed, FAULT_MEMBER_REMOVE, 4));
    assert_true(membership_op_done(&added, &before, FAULT_MEMBER_REMOVE, 5));
    assert_true(membership_op_done(&before, &added, FAULT_MEMBER_ADD, 5));
    assert_false(membership_op_done(&before, &before, FAULT_MEMBER_ADD, 5));
    assert_false(membership_op_done(&added, &added, FAULT_MEMBER_ADD, 5));
    assert_false(membership_op_done(&before, &promoted, FAULT_MEMBER_TRANSFER,
                                    4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership_text_roundtrips),
        cmocka_unit_test(test_membership_refuses_malformed),
        cmocka_unit_test(test_membership_joint_quorum),
        cmocka_unit_test(test_membership_op_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
