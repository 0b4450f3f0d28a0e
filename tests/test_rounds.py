"""The round's decisions, as a table: (dose, event, now) -> (dose, effects). No Redis, no
greenlets, no clock: the domain is a plain function."""
from datetime import datetime

import pytest

from domain.asking import AfterAsk, AskOutcome, AskResult, after_ask
from domain.rounds import (
    Answered, Cancel, Delivered, Dose, Due, NotDelivered, Resume, RoundEnded, RoundState, Rules,
    SendAsk, TransitionError, decide,
)
from domain.user import UserRecord
from domain.wallclock import zone

TOKYO = zone("Asia/Tokyo")
RULES = Rules(snooze_interval=600, max_reasks=10, grace=1800)
S = RoundState


def t(hour, minute=0, second=0, day=27):
    return datetime(2026, 11, day, hour, minute, second, tzinfo=TOKYO).timestamp()


EIGHT = t(8)
TOMORROW_EIGHT = t(8, day=28)
FRESH = Dose(8, 0, due=EIGHT)
ASKING = Dose(8, 0, due=t(8, 10), at=EIGHT, day="2026-11-27", state=S.ASKING, asks=1)
LAST = ASKING._replace(due=t(9, 40), asks=10)
EXHAUSTED = ASKING._replace(due=t(9, 50), asks=11, state=S.EXHAUSTED)
MISSED = EXHAUSTED._replace(state=S.MISSED, due=TOMORROW_EIGHT)
TAKEN = ASKING._replace(state=S.TAKEN, answered_at=t(8, 5), due=TOMORROW_EIGHT)


ROWS = [
    # name, dose, event, now, expected dose, expected effects
    ("first ask at the time", FRESH, Due(), EIGHT,
     FRESH._replace(at=EIGHT, day="2026-11-27", state=S.ASKING), (SendAsk(0, EIGHT),)),
    ("a wake before the due time does nothing", FRESH, Due(), t(7, 59), FRESH, ()),
    ("first ask late within the grace", FRESH, Due(), t(8, 29),
     FRESH._replace(at=EIGHT, day="2026-11-27", state=S.ASKING), (SendAsk(0, EIGHT),)),
    ("first ask past the grace is not asked", FRESH, Due(), t(8, 31),
     FRESH._replace(at=EIGHT, day="2026-11-27", state=S.NOT_ASKED, due=TOMORROW_EIGHT),
     (RoundEnded("2026-11-27", EIGHT, S.NOT_ASKED),)),
    ("the first ask delivered", ASKING._replace(asks=0, due=EIGHT), Delivered(), t(8, 0, 1),
     ASKING._replace(asks=1, due=t(8, 10, 1)), ()),
    ("a re-ask is due", ASKING, Due(), t(8, 10), ASKING, (SendAsk(1, EIGHT),)),
    ("re-asks stop when the quota is used up", ASKING, Due(reasks_allowed=False), t(8, 10),
     ASKING._replace(state=S.EXHAUSTED, due=t(8, 20)), ()),
    ("re-asks overdue past the grace end the round", ASKING, Due(), t(8, 41),
     ASKING._replace(state=S.MISSED, due=TOMORROW_EIGHT),
     (RoundEnded("2026-11-27", EIGHT, S.MISSED),)),
    ("the last re-ask delivered leaves one interval to answer", LAST, Delivered(), t(9, 40),
     EXHAUSTED, ()),
    ("no answer one interval after the last ask: missed", EXHAUSTED, Due(), t(9, 50),
     MISSED, (RoundEnded("2026-11-27", EIGHT, S.MISSED),)),
    ("an answer while asking", ASKING, Answered(), t(8, 5),
     TAKEN, (RoundEnded("2026-11-27", EIGHT, S.TAKEN),)),
    ("an answer after the last ask, before it is missed, is in time", EXHAUSTED, Answered(),
     t(9, 45), EXHAUSTED._replace(state=S.TAKEN, answered_at=t(9, 45), due=TOMORROW_EIGHT),
     (RoundEnded("2026-11-27", EIGHT, S.TAKEN),)),
    ("an answer to a missed round is late", MISSED, Answered(), t(12),
     MISSED._replace(state=S.LATE, answered_at=t(12)),
     (RoundEnded("2026-11-27", EIGHT, S.LATE, was=S.MISSED),)),
    ("a second answer changes nothing", TAKEN, Answered(), t(8, 6), TAKEN, ()),
    ("the next day's round replaces a missed one", MISSED, Due(), TOMORROW_EIGHT,
     MISSED._replace(at=TOMORROW_EIGHT, day="2026-11-28", state=S.ASKING, asks=0),
     (SendAsk(0, TOMORROW_EIGHT),)),
    ("LINE failed: the same ask again one interval later", ASKING, NotDelivered(), t(8, 10),
     ASKING._replace(due=t(8, 20)), ()),
    ("LINE failed all day: the round ends", ASKING._replace(due=t(7, 55, day=28)),
     NotDelivered(), t(7, 55, day=28),
     ASKING._replace(state=S.MISSED, due=TOMORROW_EIGHT),
     (RoundEnded("2026-11-27", EIGHT, S.MISSED),)),
    ("removing the time cancels an open round", ASKING, Cancel(), t(8, 15),
     ASKING._replace(state=S.CANCELLED, due=None), ()),
    ("a block keeps an ended round as it was", TAKEN, Cancel(), t(9),
     TAKEN._replace(due=None), ()),
    ("following again schedules the next first ask", TAKEN._replace(due=None), Resume(), t(9),
     TAKEN, ()),
    ("one round a day: a time already asked today waits for tomorrow (a zone change)",
     TAKEN._replace(due=t(17)), Due(), t(17), TAKEN._replace(due=TOMORROW_EIGHT), ()),
]


@pytest.mark.parametrize("name, dose, event, now, expected, effects", ROWS,
                         ids=[row[0] for row in ROWS])
def test_decide(name, dose, event, now, expected, effects):
    assert decide(dose, event, now, RULES, TOKYO) == (expected, effects)


@pytest.mark.parametrize("event", [Delivered(), NotDelivered()])
@pytest.mark.parametrize("dose", [FRESH, TAKEN, MISSED])
def test_an_ask_result_for_a_round_that_is_not_open_is_refused(dose, event):
    with pytest.raises(TransitionError):
        decide(dose, event, t(9), RULES, TOKYO)


# -- after an ask (domain.asking: the one step for an actor and for a group) ----------------------
ASKED = ASKING._replace(asks=0, due=EIGHT)   # its first ask just claimed and sent


def step(outcome, dose=ASKED, now=t(8, 0, 1), other=Dose(20, 0, due=t(20))):
    return after_ask(UserRecord("U1", (dose, other)), dose, outcome, now, RULES, TOKYO)


def test_an_ask_shown_or_refused_is_spent_and_saved():
    shown = ASKING._replace(asks=1, due=t(8, 10, 1))
    assert step(AskOutcome(AskResult.SHOWN)) == AfterAsk(
        UserRecord("U1", (shown, Dose(20, 0, due=t(20)))), (), save=True)
    assert step(AskOutcome(AskResult.REFUSED)) == step(AskOutcome(AskResult.SHOWN))


def test_an_ask_line_could_not_take_is_the_next_one_again():
    again = step(AskOutcome(AskResult.NOT_DELIVERED))
    assert again.save and again.record.doses[0] == ASKED._replace(due=t(8, 10, 1))
    last_chance = step(AskOutcome(AskResult.NOT_DELIVERED), dose=ASKING,
                       now=t(7, 55, day=28))          # the next day's round is too close
    assert last_chance.effects == (RoundEnded("2026-11-27", EIGHT, S.MISSED),)


def test_a_user_who_cannot_receive_pushes_is_paused_whole():
    paused = step(AskOutcome(AskResult.UNREACHABLE))
    assert paused.save and [d.due for d in paused.record.doses] == [None, None]
    assert paused.record.doses[0].state is S.CANCELLED


@pytest.mark.parametrize("wait, look_again", [(30, 1.05), (0.3, 0.35)])
def test_an_ask_another_sender_holds_is_looked_at_again_without_saving(wait, look_again):
    # In a second, or when its lease ends, if sooner.
    held = step(AskOutcome(AskResult.HELD, wait))
    assert not held.save and held.effects == ()
    assert held.record.doses[0] == ASKED._replace(due=t(8, 0, 1) + look_again)


def run(doses, until, answers=()):
    """Drive rounds on the decisions alone: feed Due at each round's due time and Delivered
    for each ask, Answered at the given moments. Returns [(time, "H:MM", attempt)] asked."""
    doses, asked, now = list(doses), [], min(r.due for r in doses)
    answers = sorted(answers)
    while now <= until:
        for i, dose in enumerate(doses):
            if dose.due is not None and dose.due <= now:
                dose, effects = decide(dose, Due(), now, RULES, TOKYO)
                for effect in effects:
                    if isinstance(effect, SendAsk):
                        asked.append((now, f"{dose.hour}:{dose.minute:02d}", effect.attempt))
                        dose, _ = decide(dose, Delivered(), now, RULES, TOKYO)
                doses[i] = dose
        while answers and answers[0] <= now:
            answers.pop(0)
            doses = [decide(dose, Answered(), now, RULES, TOKYO)[0] for dose in doses]
        now = min([r.due for r in doses if r.due is not None] + answers)
    return asked, doses


def test_overlapping_rounds_ask_on_their_own_clocks():
    # 8:00 and 8:15 with 10-minute re-asks: both are open from 8:15 to 9:50.
    asked, doses = run([Dose(8, 0, due=t(8)), Dose(8, 15, due=t(8, 15))], until=t(10, 30))
    eight = [(moment, attempt) for moment, time, attempt in asked if time == "8:00"]
    quarter = [(moment, attempt) for moment, time, attempt in asked if time == "8:15"]
    assert eight == [(t(8) + 600 * k, k) for k in range(11)]
    assert quarter == [(t(8, 15) + 600 * k, k) for k in range(11)]
    assert [r.state for r in doses] == [S.MISSED, S.MISSED]


def test_an_answer_between_overlapping_rounds_takes_both_open_ones():
    asked, doses = run([Dose(8, 0, due=t(8)), Dose(8, 15, due=t(8, 15))], until=t(10),
                        answers=[t(8, 20)])
    assert [(time, attempt) for _, time, attempt in asked] == [
        ("8:00", 0), ("8:00", 1), ("8:15", 0), ("8:00", 2)]
    assert [(r.state, r.due) for r in doses] == [(S.TAKEN, TOMORROW_EIGHT),
                                                   (S.TAKEN, t(8, 15, day=28))]


# -- the list of times (domain.schedule) ---------------------------------------------------------
from domain import schedule  # noqa: E402


def test_replacing_keeps_the_rounds_of_times_that_stay():
    replaced = schedule.replace([ASKING, Dose(20, 0, due=t(20))], [(8, 0), (21, 0)], None,
                                t(8, 12), TOKYO)
    # 8:00 goes on asking; 21:00 replaces 20:00, which was not asked today: today.
    assert replaced == schedule.Replaced((ASKING, Dose(21, 0, due=t(21))))


def test_a_new_time_starts_today_unless_a_replaced_time_was_asked_today():
    fresh = schedule.replace([FRESH], [(9, 0)], None, t(7), TOKYO)
    assert fresh == schedule.Replaced((Dose(9, 0, due=t(9)),))
    asked = schedule.replace([ASKING], [(9, 0)], None, t(8, 12), TOKYO)
    assert asked == schedule.Replaced((Dose(9, 0, due=t(9, day=28)),), waits_until=t(9, day=28))
    earlier = schedule.replace([ASKING], [(7, 0)], None, t(8, 12), TOKYO)   # tomorrow anyway
    assert earlier == schedule.Replaced((Dose(7, 0, due=t(7, day=28)),))
    # Today's 8:00 fell due while the bot was down and was never sent: the user was not
    # asked today, so 9:00 asks today. (That round still counts as 8:00's round of the day.)
    not_asked = ASKING._replace(state=S.NOT_ASKED, asks=0, due=TOMORROW_EIGHT)
    unasked = schedule.replace([not_asked], [(9, 0)], None, t(8, 40), TOKYO)
    assert unasked == schedule.Replaced((Dose(9, 0, due=t(9)),))


def test_adding_and_removing_times():
    added = schedule.add([ASKING], [(20, 0), (8, 0)], None, t(8, 12), TOKYO)
    twenty = Dose(20, 0, due=t(20))
    assert added == schedule.Added((ASKING, twenty), added=(twenty,), already=(ASKING,))
    assert schedule.remove(added.doses, [(20, 0)]) == ((ASKING,), (twenty,), ())
    assert schedule.remove(added.doses, [(20, 0), (9, 0)]) == (added.doses, (), ((9, 0),))


def test_at_most_five_times():
    five = [(h, 0) for h in range(5)]
    doses = schedule.replace([], five, None, t(7), TOKYO).doses
    with pytest.raises(schedule.TooManyTimes):
        schedule.add(doses, [(23, 0)], None, t(7), TOKYO)
    with pytest.raises(schedule.TooManyTimes):
        schedule.replace([], five + [(23, 0)], None, t(7), TOKYO)
