"""`orderkit_ledger_apply`: a whole plan in one statement, on the server.

The PostgreSQL ledger's fast path (see `_postgres_ledger_fast`): the plan
travels as JSON, and one call locks its balances, checks it and writes it,
so that a reservation costs one round trip, not four, and its row locks are
held for one statement rather than across the network.

The function is the shared engine's algorithm for the plans that need
nothing but arithmetic: new holds only, movements by delta (no stocktake),
every balance already there, no hold of the plan's balances due by the
store's time or owned by the superseded owner, no figure falling below
zero. Anything else it answers "fall back", and the store runs the plan
through the engine (`PostgresRows`) instead; so does a refusal that must
name a figure, while a shortage is reported here. Each balance is locked
(`SELECT ... FOR UPDATE`) and read first, and written only once the plan is
checked: a plan that is refused, replayed or left to the engine leaves
every table as it found it.

Besides the key, `p_remember`, the plan's time `p_now` and the superseded
owner, the plan comes as one JSON document `p_plan`: one string for the
driver to send and the server to parse, however many rows. Its parts:
  p_rows      [sku, location, d_on_hand, d_reserved, d_allocated] per
              touched balance, sorted by (sku, location) by code point: the
              one lock order of every plan, so that plans never deadlock;
  p_loaded    indexes into p_rows of the balances the receipt shows, in
              the engine's order (first moved, then checked);
  p_checks    [row index, measure (0 available, 1 on hand, 2 allocated),
              minimum or null for the SKU's policy, requested];
  p_holds     the new holds, as `HOLD_COLUMNS` rows;
  p_movements the movements as `movement_row()`, numbered 1, 2, ... and
              the plan's own at the plan's time, as the engine writes them.
When the store's time is later than the plan's (another process's clock is
ahead), the plan's own movements move to that time and its holds by the
difference, as the engine's catch-up does.

Answers one row: `r_status` 0 applied (`r_at`, the stored movement numbers
`r_seqs`, and `r_figures`: on hand, reserved, allocated and safety stock
of each of p_rows after the plan), 1 the key's receipt (`r_body`,
`r_seqs`), 2 short (`r_figures`: check index and the available figure the
error reports, in pairs; nothing written), 3 fall back (nothing written).

`p_lock` false reads the balances without locking them: the test seam of
`PostgresRows.locking`, which shows the soak tests can see an oversell.
Never false in use.
"""

from __future__ import annotations

from typing import Final

from orderkit._time import LAST
from orderkit.adapters._micros import to_us


# How the functions find a key's receipt. Since schema version 6 the
# receipts are keyed by the md5 digest of the key, not the key (see
# `_postgres_ledger_tables`): the digest finds the row through the primary
# key, and the key itself makes the match exact. Versions 2 to 4 installed
# the functions with the look-up of before; their steps keep that text, so
# that no migration step ever changes once released.
_BY_KEY_BEFORE_6: Final = "r.key = p_key"
BY_KEY: Final = "r.key_digest = md5(p_key)::uuid AND r.key = p_key"
"""A receipt `r` of the key `p_key`, through the receipts' primary key."""

# The figures are summed and checked as numeric, not bigint: a plan of
# absurd quantities (up to 2**63 - 1, which the validators allow) must be
# refused as short, as the engine refuses it in Python's integers, not fail
# on an overflow. A figure beyond bigint leaves the plan to the engine.
_BIGINT_MAX: Final = 2**63 - 1

# Each balance, in the order given, read with the plan's deltas added: with
# the lock, SELECT ... FOR UPDATE, so the figures stay true until the call
# ends; without, bare, as the broken variant must. Nothing is written until
# the plan is checked, so a plan refused, replayed or left to the engine
# writes nothing at all.
_LOCK_ROW = """
            e := p_rows->(i - 1);
            IF p_lock THEN
                SELECT b.on_hand + (e->>2)::numeric, b.reserved + (e->>3)::numeric,
                    b.allocated + (e->>4)::numeric, b.safety_stock
                INTO b_on_hand, b_reserved, b_allocated, b_safety
                FROM orderkit_balances AS b
                WHERE b.sku = e->>0 AND b.location = e->>1 FOR UPDATE;
            ELSE
                SELECT b.on_hand + (e->>2)::numeric, b.reserved + (e->>3)::numeric,
                    b.allocated + (e->>4)::numeric, b.safety_stock
                INTO b_on_hand, b_reserved, b_allocated, b_safety
                FROM orderkit_balances AS b
                WHERE b.sku = e->>0 AND b.location = e->>1;
            END IF;
            IF NOT FOUND THEN
                EXIT plan;  -- a balance to create, or an unknown SKU or location
            END IF;
            a_sku[i] := e->>0;
            a_loc[i] := e->>1;
            f := f || ARRAY[b_on_hand, b_reserved, b_allocated, b_safety];"""

_CHECK = """
            e := p_checks->k;
            j := 4 * (e->>0)::integer;
            v := CASE (e->>1)::integer
                WHEN 0 THEN f[j + 1] - f[j + 2] - f[j + 3]
                WHEN 1 THEN f[j + 1] ELSE f[j + 3] END;
            floor_ := (e->>2)::numeric;
            IF floor_ IS NULL THEN
                -- Every policy's floor is zero or below: read it only below.
                floor_ := 0;
                IF v < 0 THEN
                    SELECT p.kind, p.quantity, p.ends_at INTO pol
                    FROM orderkit_policies AS p
                    WHERE p.sku = a_sku[(e->>0)::integer + 1];
                    IF FOUND AND (pol.kind = 'backorder' OR r_at < pol.ends_at)
                    THEN
                        floor_ := -pol.quantity;
                    END IF;
                END IF;
            END IF;
            IF v < floor_ THEN
                short := short || ARRAY[k, v + (e->>3)::numeric - floor_];
            END IF;"""

# When the store's time is later than the plan's, the plan's own movements
# move to it, and its new holds by the difference (the engine's catch-up);
# an expiry at the end of time stays there, as the engine's does.
_CATCH_UP = """
            movements := (SELECT coalesce(jsonb_agg(CASE WHEN t.e->>0 = p_key
                    THEN jsonb_set(t.e, '{8}', to_jsonb(r_at)) ELSE t.e END
                    ORDER BY t.o), '[]')
                FROM jsonb_array_elements(p_movements) WITH ORDINALITY AS t (e, o));
            holds := (SELECT coalesce(jsonb_agg(jsonb_set(jsonb_set(jsonb_set(t.e,
                    '{5}', to_jsonb((t.e->>5)::bigint + late)),
                    '{6}', to_jsonb(least((t.e->>6)::bigint + late, LAST_US))),
                    '{10}', CASE WHEN (t.e->>10)::bigint < r_at
                        THEN to_jsonb(r_at) ELSE t.e->10 END) ORDER BY t.o), '[]')
                FROM jsonb_array_elements(p_holds) WITH ORDINALITY AS t (e, o));"""
_CATCH_UP = _CATCH_UP.replace("LAST_US", str(to_us(LAST)))

_WRITE = """
        FOR i IN 1 .. n_rows LOOP
            e := p_rows->(i - 1);
            IF e->>2 <> '0' OR e->>3 <> '0' OR e->>4 <> '0' THEN
                UPDATE orderkit_balances AS b SET on_hand = r_figures[4 * i - 3],
                    reserved = r_figures[4 * i - 2],
                    allocated = r_figures[4 * i - 1]
                WHERE b.sku = a_sku[i] AND b.location = a_loc[i];
            END IF;
        END LOOP;
        IF mark IS DISTINCT FROM r_at THEN
            INSERT INTO orderkit_marks AS m (backend, high_water)
            VALUES (pg_backend_pid(), r_at) ON CONFLICT (backend) DO UPDATE
            SET high_water = greatest(m.high_water, excluded.high_water);
        END IF;
        IF late > 0 THEN{catch_up}
        END IF;
        r_seqs := ARRAY(SELECT nextval('orderkit_movements_seq')
            FROM generate_series(1, jsonb_array_length(movements)) ORDER BY 1);
        INSERT INTO orderkit_holds (hold_id, owner, sku, location, quantity,
            placed_at, expires_at, state, committed, shipped, resolved_at)
        SELECT t.e->>0, t.e->>1, t.e->>2, t.e->>3, (t.e->>4)::bigint,
            (t.e->>5)::bigint, (t.e->>6)::bigint, t.e->>7, (t.e->>8)::bigint,
            (t.e->>9)::bigint, (t.e->>10)::bigint
        FROM jsonb_array_elements(holds) AS t (e);
        INSERT INTO orderkit_movements (key, idx, kind, sku, location, on_hand,
            reserved, allocated, at, reason, actor, hold_id, counted, seq)
        SELECT t.e->>0, (t.e->>1)::integer, t.e->>2, t.e->>3, t.e->>4,
            (t.e->>5)::bigint, (t.e->>6)::bigint, (t.e->>7)::bigint,
            (t.e->>8)::bigint, t.e->>9, t.e->>10, t.e->>11, (t.e->>12)::bigint,
            r_seqs[t.o]
        FROM jsonb_array_elements(movements) WITH ORDINALITY AS t (e, o);
        IF p_remember THEN
            INSERT INTO orderkit_receipts (key, body, seqs)
            SELECT p_key, jsonb_build_array(p_key, r_at, movements, holds,
                coalesce(jsonb_agg(jsonb_build_array(a_sku[l.x::integer + 1],
                    a_loc[l.x::integer + 1], r_figures[4 * l.x::integer + 1],
                    r_figures[4 * l.x::integer + 2], r_figures[4 * l.x::integer + 3],
                    r_figures[4 * l.x::integer + 4]) ORDER BY l.o), '[]'))::text,
                r_seqs
            FROM jsonb_array_elements_text(p_loaded) WITH ORDINALITY AS l (x, o);
        END IF;
        r_status := 0;
        RETURN;"""


def _apply_function(by_key: str) -> str:
    """`orderkit_ledger_apply`, its receipt found by `by_key`."""
    return f"""
CREATE FUNCTION orderkit_ledger_apply(p_lock boolean, p_key text,
    p_remember boolean, p_now bigint, p_owner text, p_plan jsonb,
    OUT r_status integer, OUT r_at bigint, OUT r_seqs bigint[],
    OUT r_body text, OUT r_figures bigint[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    p_rows jsonb := p_plan->0;
    p_loaded jsonb := p_plan->1;
    p_checks jsonb := p_plan->2;
    p_holds jsonb := p_plan->3;
    p_movements jsonb := p_plan->4;
    n_rows integer := jsonb_array_length(p_rows);
    e jsonb;
    j integer;
    b_on_hand numeric;
    b_reserved numeric;
    b_allocated numeric;
    b_safety numeric;
    f numeric[] := '{{}}';
    a_sku text[];
    a_loc text[];
    mark bigint;
    late bigint;
    v numeric;
    floor_ numeric;
    pol record;
    short numeric[] := '{{}}';
    holds jsonb := p_holds;
    movements jsonb := p_movements;
BEGIN
    r_status := 3;  -- until known otherwise: left to the engine
    r_figures := '{{}}';
    <<plan>> BEGIN
        FOR i IN 1 .. n_rows LOOP{_LOCK_ROW}
        END LOOP;
        -- Read after the locks: a plan that waited sees what it waited for.
        IF p_remember THEN
            SELECT r.body, r.seqs INTO r_body, r_seqs FROM orderkit_receipts AS r
            WHERE {by_key};
            IF FOUND THEN
                r_status := 1;
                EXIT plan;
            END IF;
        END IF;
        SELECT max(m.high_water) INTO mark FROM orderkit_marks AS m;
        r_at := greatest(p_now, mark);
        late := r_at - p_now;
        -- Holds to expire or supersede first, or a new hold's id taken: the
        -- engine's work. The owner's holds are found by owner alone: through
        -- the index of live holds by balance, a hot balance's thousands of
        -- holds would be read one by one.
        IF EXISTS (SELECT 1 FROM unnest(a_sku, a_loc) AS r (sku, location)
                CROSS JOIN LATERAL (SELECT 1 FROM orderkit_holds AS h
                    WHERE h.sku = r.sku AND h.location = r.location
                    AND h.state = 'live' AND h.expires_at <= r_at LIMIT 1) AS due)
            OR EXISTS (SELECT 1 FROM unnest(a_sku, a_loc) AS r (sku, location)
                JOIN (SELECT h.sku, h.location, h.state FROM orderkit_holds AS h
                    WHERE h.owner = p_owner OFFSET 0) AS own
                ON own.sku = r.sku AND own.location = r.location
                WHERE own.state = 'live')
            OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_holds) AS t (e)
                CROSS JOIN LATERAL (SELECT 1 FROM orderkit_holds AS h
                    WHERE h.hold_id = t.e->>0 LIMIT 1) AS taken)
        THEN
            EXIT plan;
        END IF;
        FOR k IN 0 .. jsonb_array_length(p_checks) - 1 LOOP{_CHECK}
        END LOOP;
        IF cardinality(short) > 0 THEN
            IF (SELECT max(abs(x)) FROM unnest(short) AS x) > {_BIGINT_MAX} THEN
                EXIT plan;  -- too large to report: the engine reports it
            END IF;
            r_status := 2;
            r_figures := short::bigint[];
            EXIT plan;
        END IF;
        FOR i IN 1 .. n_rows LOOP
            IF f[4 * i - 3] < 0 OR f[4 * i - 2] < 0 OR f[4 * i - 1] < 0
                OR f[4 * i - 3] > {_BIGINT_MAX} OR f[4 * i - 2] > {_BIGINT_MAX}
                OR f[4 * i - 1] > {_BIGINT_MAX}
            THEN
                EXIT plan;  -- the engine names the figure, or fails to store it
            END IF;
        END LOOP;
        r_figures := f::bigint[];
        -- Checked: write it all.{_WRITE.format(catch_up=_CATCH_UP)}
    END plan;
END
$$"""  # noqa: S608 - constants only


APPLY_FUNCTION: Final = _apply_function(_BY_KEY_BEFORE_6)
"""The plan's whole application in one call (see the module's docstring)."""


REPLACE_APPLY_FUNCTION: Final = APPLY_FUNCTION.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
)
"""The function as a later migration installs it over an earlier version."""


def _hold_function(by_key: str) -> str:
    """`orderkit_ledger_hold`, its receipt found by `by_key`."""
    return f"""
CREATE OR REPLACE FUNCTION orderkit_ledger_hold(p_key text, p_remember boolean,
    p_now bigint, p_owner text, p_sku text, p_location text, p_quantity bigint,
    p_hold_id text, p_holder text, p_placed bigint, p_expires bigint,
    p_reason text, p_actor text,
    OUT r_status integer, OUT r_at bigint, OUT r_seqs bigint[],
    OUT r_body text, OUT r_figures bigint[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    b_on_hand bigint;
    b_reserved bigint;
    b_allocated bigint;
    b_safety bigint;
    mark bigint;
    blocked boolean;
    available numeric;
    seq bigint;
BEGIN
    r_status := 3;  -- until known otherwise: left to `orderkit_ledger_apply`
    IF p_remember THEN
        -- A stored receipt never changes: no lock needed to replay it.
        SELECT r.body, r.seqs INTO r_body, r_seqs FROM orderkit_receipts AS r
        WHERE {by_key};
        IF FOUND THEN
            r_status := 1;
            RETURN;
        END IF;
    END IF;
    -- The lock, the check and the write in one statement, as raw SQL would
    -- reserve; a refusal writes no row version.
    UPDATE orderkit_balances AS b SET reserved = b.reserved + p_quantity
    WHERE b.sku = p_sku AND b.location = p_location
        AND b.on_hand::numeric - b.reserved - b.allocated >= p_quantity
    RETURNING b.on_hand, b.reserved, b.allocated, b.safety_stock
    INTO b_on_hand, b_reserved, b_allocated, b_safety;
    IF NOT FOUND THEN
        SELECT b.on_hand::numeric - b.reserved - b.allocated INTO available
        FROM orderkit_balances AS b
        WHERE b.sku = p_sku AND b.location = p_location FOR UPDATE;
        IF NOT FOUND OR available >= p_quantity OR available < -{_BIGINT_MAX} THEN
            RETURN;  -- a balance to create, stock freed meanwhile, or too short to say
        END IF;
        IF p_remember THEN
            -- The key's plan may have committed while this call waited for
            -- the balance: then it is replayed, not reported short.
            SELECT r.body, r.seqs INTO r_body, r_seqs FROM orderkit_receipts AS r
            WHERE {by_key};
            IF FOUND THEN
                r_status := 1;
                RETURN;
            END IF;
        END IF;
    END IF;
    -- Read after the lock, as the engine reads: a plan that waited sees
    -- what it waited for. Anything the engine must do first (expire a due
    -- hold, supersede the owner's, apply a stock policy, report a taken id)
    -- is left to it. A receipt of the key committed while this call waited
    -- fails its insert below on the unique key: the store runs the plan
    -- again, and the first look above replays it.
    SELECT m.mark, EXISTS (SELECT 1 FROM orderkit_holds AS h
            WHERE h.sku = p_sku AND h.location = p_location AND h.state = 'live'
            AND h.expires_at <= greatest(p_now, m.mark))
        -- By owner alone (OFFSET 0 keeps the planner from it): through the
        -- balance's index, a hot balance's thousands of holds are read.
        OR EXISTS (SELECT 1 FROM (SELECT h.sku, h.location, h.state
                FROM orderkit_holds AS h WHERE h.owner = p_owner OFFSET 0) AS own
            WHERE own.sku = p_sku AND own.location = p_location
            AND own.state = 'live')
        OR EXISTS (SELECT 1 FROM orderkit_holds AS h WHERE h.hold_id = p_hold_id)
        OR (available IS NOT NULL
            AND EXISTS (SELECT 1 FROM orderkit_policies AS p WHERE p.sku = p_sku))
    INTO mark, blocked
    FROM (SELECT max(high_water) AS mark FROM orderkit_marks) AS m;
    IF blocked THEN
        IF available IS NULL THEN
            UPDATE orderkit_balances AS b SET reserved = b.reserved - p_quantity
            WHERE b.sku = p_sku AND b.location = p_location;
        END IF;
        RETURN;
    END IF;
    IF available IS NOT NULL THEN
        r_status := 2;
        r_figures := ARRAY[0, available::bigint];
        RETURN;
    END IF;
    r_at := greatest(p_now, mark);
    IF mark IS DISTINCT FROM r_at THEN
        INSERT INTO orderkit_marks AS m (backend, high_water)
        VALUES (pg_backend_pid(), r_at) ON CONFLICT (backend) DO UPDATE
        SET high_water = greatest(m.high_water, excluded.high_water);
    END IF;
    -- A later store time moves the hold on by the difference (catch-up).
    WITH hold AS (INSERT INTO orderkit_holds (hold_id, owner, sku, location,
            quantity, placed_at, expires_at, state, committed, shipped, resolved_at)
        VALUES (p_hold_id, p_holder, p_sku, p_location, p_quantity,
            p_placed + r_at - p_now, least(p_expires + r_at - p_now, {to_us(LAST)}),
            'live', 0, 0, NULL))
    INSERT INTO orderkit_movements (key, idx, kind, sku, location, on_hand,
        reserved, allocated, at, reason, actor, hold_id, counted, seq)
    VALUES (p_key, 0, 'hold', p_sku, p_location, 0, p_quantity, 0, r_at,
        p_reason, p_actor, p_hold_id, NULL, nextval('orderkit_movements_seq'))
    RETURNING orderkit_movements.seq INTO seq;
    r_seqs := ARRAY[seq];
    IF p_remember THEN
        INSERT INTO orderkit_receipts (key, body, seqs)
        VALUES (p_key, jsonb_build_array(p_key, r_at,
            jsonb_build_array(jsonb_build_array(p_key, 0, 'hold', p_sku, p_location,
                0, p_quantity, 0, r_at, p_reason, p_actor, p_hold_id, NULL, 1)),
            jsonb_build_array(jsonb_build_array(p_hold_id, p_holder, p_sku,
                p_location, p_quantity, p_placed + r_at - p_now,
                least(p_expires + r_at - p_now, {to_us(LAST)}), 'live', 0, 0, NULL)),
            jsonb_build_array(jsonb_build_array(p_sku, p_location, b_on_hand,
                b_reserved, b_allocated, b_safety)))::text, r_seqs);
    END IF;
    r_figures := ARRAY[b_on_hand, b_reserved, b_allocated, b_safety];
    r_status := 0;
END
$$"""  # noqa: S608 - constants only


HOLD_FUNCTION: Final = _hold_function(_BY_KEY_BEFORE_6)
"""One new hold on one balance (`_postgres_ledger_fast.prepare`'s common plan).

A reservation of one line, in three statements with scalar parameters and
no JSON to take apart: the conditional update, one read of what the engine
would have to do first, and the hold with its movement. Its answers are
`orderkit_ledger_apply`'s; "fall back" leaves the plan to the engine, having
written nothing (a balance reserved and then found blocked is put back).
"""


APPLY_FUNCTION_6: Final = _apply_function(BY_KEY).replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
)
"""`APPLY_FUNCTION` as version 6 installs it: receipts found by their key's digest."""
HOLD_FUNCTION_6: Final = _hold_function(BY_KEY)
"""`HOLD_FUNCTION` as version 6 installs it: receipts found by their key's digest."""
