r"""Numba kernels of the rejection-free lattice KMC (see :mod:`oracles.kmc`).

Data structures (class-grouped BKL / n-fold way, Bortz, Kalos & Lebowitz,
J. Comput. Phys. 17, 10, 1975):

* ``val[i]`` (int8): the species on site ``i`` (0 = empty, 1..S), or a
  pseudo-species ``S + 1`` / ``S + 2`` on the left / right reservoir column.
* key of site i = ``val[i] * 5**V + sum over the 4 neighbours of
  5**val[neighbour]`` (``V`` values a site can hold): the site's own value
  and the count of each value among its neighbours, which fix its total rate.
  A neighbour changing from a to b adds ``5**b - 5**a``: running neighbour
  counts, no recount.
* ``bucket_of_key[key]``: sites are grouped by their (finite set of) total
  rates; ``members[b, :bcount[b]]`` lists the sites of bucket ``b`` and
  ``pos[i]`` is the index of site ``i`` there (swap-remove updates, O(1)).
  Key and position share one word per site, ``site[i] = pos << key_bits |
  key`` (int32 when it fits, else int64), so that an update touches one
  cache line instead of two and the lattice's working set stays small.
  Sites with zero rate (and reservoir sites) are in no bucket.

One event: total rate ``R = sum_b bcount[b] * rate[b]`` (a few buckets);
uniform ``u1`` picks a bucket and a member, ``u2`` picks one of the site's
processes in proportion to its rate, ``u3`` the waiting time
``-ln(1 - u3) / R``. Cost is independent of the lattice size (no scan over
sites). Random numbers: xoshiro256+ in local variables, two streams per call
(``u1`` from the site stream, drawn two events ahead so that the cache lines
of the coming events can be prefetched while the present one is applied;
``u2``, ``u3`` from the other). :class:`ReferenceRandom` reproduces them in
Python for the slow reference :func:`reference_bkl`.

Process tables (built by :func:`oracles.kmc.compile_model`): single-site
entries of species ``s`` in ``single_start[s]:single_start[s+1]``; pair
entries with the site holding ``s`` and a neighbour holding value ``v`` in
``pair_start[s*V+v]:pair_start[s*V+v+1]``, each with its rate, the new value
of the site, the new value of the neighbour (``-1``: a reservoir, left
unchanged), the process id and the particle transfer into the lattice
(``+1`` / ``-1`` / 0, counted per reservoir in ``bflux``).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

SITE_STREAM = np.uint64(0xD1B54A32D192ED03)  # seeds the site-choice stream: seed ^ SITE_STREAM



@njit(cache=True)
def _neighbours(i, n_rows, n_cols):
    """Right, left, down, up neighbours of site i (row-major, periodic wrap). The
    row is floor((i + 1/2) / n_cols) by a float product (exact for i < 2**40;
    an integer division would sit on the critical path of every event)."""
    r = int((i + 0.5) * (1.0 / n_cols))
    c = i - r * n_cols
    right = i + 1 if c + 1 < n_cols else i + 1 - n_cols
    left = i - 1 if c > 0 else i - 1 + n_cols
    down = i + n_cols if r + 1 < n_rows else i + n_cols - n_rows * n_cols
    up = i - n_cols if r > 0 else i - n_cols + n_rows * n_cols
    return right, left, down, up


def _emit_prefetch(builder, ptr) -> None:
    """Emit ``llvm.prefetch(ptr, read, high locality, data cache)`` (shared by the intrinsics)."""
    i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                        "llvm.prefetch.p0")
    builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])


@intrinsic
def _prefetch(typingctx, array, row, col):
    """Hint the CPU to load ``array[row, col]`` into cache (LLVM prefetch; no effect on results)."""
    sig = types.void(array, row, col)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ary = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 2)]
        _emit_prefetch(builder, cgutils.get_item_pointer(context, builder, array_type, ary, index,
                                                         wraparound=False))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _prefetch1(typingctx, array, index):
    """Hint the CPU to load ``array[index]`` (1-D) into cache."""
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        ary = context.make_array(array_type)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        _emit_prefetch(builder, cgutils.get_item_pointer(context, builder, array_type, ary, [i],
                                                         wraparound=False))
        return context.get_dummy_value()

    return sig, codegen


# -- random numbers: xoshiro256+ (Blackman & Vigna, ACM TOMS 47, 36, 2021), seeded by
# splitmix64; state in four local uint64 variables (no global RNG state per draw)

@njit(cache=True)
def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@njit(cache=True)
def seed_state(seed):
    """Four uint64 words of xoshiro256+ state from a 64-bit seed."""
    x = np.uint64(seed)
    x, s0 = _splitmix64(x)
    x, s1 = _splitmix64(x)
    x, s2 = _splitmix64(x)
    x, s3 = _splitmix64(x)
    return s0, s1, s2, s3


@njit(cache=True)
def next_uniform(s0, s1, s2, s3):
    """A double in [0, 1) and the new state."""
    result = s0 + s3
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << np.uint64(45)) | (s3 >> np.uint64(19))
    return (result >> np.uint64(11)) * (1.0 / 9007199254740992.0), s0, s1, s2, s3


class ReferenceRandom:
    """The same xoshiro256+ stream in plain Python integers (for the reference)."""

    MASK = (1 << 64) - 1

    def __init__(self, seed: int) -> None:
        x, words = seed & self.MASK, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & self.MASK
            z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
            words.append(z ^ (z >> 31))
        self.s = words

    def random(self) -> float:
        s0, s1, s2, s3 = self.s
        result = (s0 + s3) & self.MASK
        t = (s1 << 17) & self.MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) & self.MASK) | (s3 >> 19)
        self.s = [s0, s1, s2, s3]
        return (result >> 11) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def build_state(val, site, members, bcount, scount, pow5, key_stride, key_bits, bucket_of_key,
                n_rows, n_cols, n_species):
    """Fill keys, buckets and species counts from ``val`` (all outputs preallocated)."""
    n = val.size
    bcount[:] = 0
    scount[:] = 0
    for i in range(n):
        nbrs = _neighbours(i, n_rows, n_cols)
        code = 0
        for d in range(4):
            code += pow5[val[nbrs[d]]]
        key = val[i] * key_stride + code
        site[i] = key
        if val[i] <= n_species:
            scount[val[i]] += 1
            b = bucket_of_key[key]
            if b >= 0:
                members[b, bcount[b]] = i
                site[i] = (bcount[b] << key_bits) | key
                bcount[b] += 1


@njit(cache=True)
def run_events(val, site, members, bcount, scount,
               pow5, key_stride, key_bits, bucket_of_key, bucket_rate, key_rate,
               single_start, single_rate, single_new, single_pid,
               pair_start, pair_rate, pair_new_i, pair_new_j, pair_pid, pair_transfer,
               n_rows, n_cols, n_species, seed, max_events, t_end, record_dt,
               records, integral, counts, bflux):
    """Run BKL events until ``max_events`` events or physical time ``t_end``.

    Accumulates into ``integral[s]`` (time integral of the number of sites
    holding species s), ``counts[pid]`` (events per process) and
    ``bflux[r, s]`` (net particles of s entering through reservoir r), and
    writes the coverages at times ``k * record_dt`` (k = 1, 2, ...) into the
    rows of ``records``. Returns (events, elapsed time, records written,
    absorbed) where ``absorbed`` is True if the total rate fell to zero.
    """
    r0, r1, r2, r3 = seed_state(seed)
    n_buckets = bucket_rate.size
    key_mask = (1 << key_bits) - 1
    n_values = pair_start.size - 1  # (S+1) * V
    n_vals = n_values // (n_species + 1)
    n_sites = 0
    for s in range(n_species + 1):
        n_sites += scount[s]
    n_rec = records.shape[0]
    rec = 0
    t = 0.0
    events = 0
    absorbed = False
    large = val.size >= 1 << 18
    # site choices come from their own stream (a0..a3), drawn two events ahead so
    # that the data of the coming events can be prefetched
    a0, a1, a2, a3 = seed_state(seed ^ SITE_STREAM)
    u_site, a0, a1, a2, a3 = next_uniform(a0, a1, a2, a3)
    u_after, a0, a1, a2, a3 = next_uniform(a0, a1, a2, a3)
    while events < max_events:
        total = 0.0
        for b in range(n_buckets):
            total += bcount[b] * bucket_rate[b]
        if total <= 0.0:
            absorbed = True
            break
        # -- which site: bucket by its share of the total rate, then a uniform member
        x = u_site * total
        b = 0
        while b < n_buckets - 1:
            w = bcount[b] * bucket_rate[b]
            if x < w:
                break
            x -= w
            b += 1
        while bcount[b] == 0:  # round-off pushed x past the last non-empty bucket
            b -= 1
        m = int(x / bucket_rate[b])
        if m >= bcount[b]:
            m = bcount[b] - 1
        i = members[b, m]
        # -- which process of site i
        s = val[i]
        u, r0, r1, r2, r3 = next_uniform(r0, r1, r2, r3)
        target = u * key_rate[site[i] & key_mask]
        chosen_new_i = -1
        chosen_new_j = -1
        chosen_pid = -1
        chosen_j = -1
        chosen_transfer = 0
        chosen_reservoir = -1
        for e in range(single_start[s], single_start[s + 1]):
            chosen_new_i = single_new[e]
            chosen_pid = single_pid[e]
            chosen_j = -1
            target -= single_rate[e]
            if target < 0.0:
                break
        if not target < 0.0:
            nbrs = _neighbours(i, n_rows, n_cols)
            for d in range(4):
                j = nbrs[d]
                v = val[j]
                row = s * n_vals + v
                for e in range(pair_start[row], pair_start[row + 1]):
                    chosen_new_i = pair_new_i[e]
                    chosen_new_j = pair_new_j[e]
                    chosen_pid = pair_pid[e]
                    chosen_j = j
                    chosen_transfer = pair_transfer[e]
                    chosen_reservoir = v - n_species - 1
                    target -= pair_rate[e]
                    if target < 0.0:
                        break
                if target < 0.0:
                    break
        # -- waiting time, records, time integrals
        u, r0, r1, r2, r3 = next_uniform(r0, r1, r2, r3)
        tau = -math.log(1.0 - u) / total
        stop = t + tau >= t_end
        t_next = t_end if stop else t + tau
        while rec < n_rec and (rec + 1) * record_dt <= t_next:
            for q in range(n_species + 1):
                records[rec, q] = scount[q] / n_sites
            rec += 1
        for q in range(n_species + 1):
            integral[q] += scount[q] * (t_next - t)
        t = t_next
        if stop:
            return events, t, rec, False
        # -- prefetch for the coming events with the present counts (after this event
        # they differ by a few, so the guesses usually hit the right cache lines, which
        # then load while this event is applied): the members entry of the event after
        # next, and the site words around the next event's site
        u_site = u_after
        u_after, a0, a1, a2, a3 = next_uniform(a0, a1, a2, a3)
        for ahead in range(2 if large else 1):
            x = (u_after if ahead == 0 else u_site) * total
            b = 0
            while b < n_buckets - 1:
                w = bcount[b] * bucket_rate[b]
                if x < w:
                    break
                x -= w
                b += 1
            m = int(x / bucket_rate[b])
            if m < bcount[b]:
                if ahead == 0:
                    _prefetch(members, b, m)
                else:
                    guess = members[b, m]
                    nb_guess = _neighbours(guess, n_rows, n_cols)
                    _prefetch1(site, guess)
                    _prefetch1(site, nb_guess[2])
                    _prefetch1(site, nb_guess[3])
                    _prefetch1(val, nb_guess[2])
                    _prefetch1(val, nb_guess[3])
        # -- apply: change up to two sites, update their and their neighbours' keys and
        # buckets (written out here: helper calls taking arrays cost reference counting)
        for c in range(2):
            if c == 0:
                changed = i
                new = chosen_new_i
            else:
                if chosen_j < 0:
                    break
                if chosen_new_j < 0:
                    if chosen_transfer != 0:
                        sp = chosen_new_i if chosen_transfer > 0 else s
                        bflux[chosen_reservoir, sp] += chosen_transfer
                    break
                changed = chosen_j
                new = chosen_new_j
            old = val[changed]
            if old == new:
                continue
            val[changed] = new
            scount[old] -= 1
            scount[new] += 1
            delta = pow5[new] - pow5[old]
            nbrs = _neighbours(changed, n_rows, n_cols)
            # on lattices beyond the L2 cache, prefetch the members entries the moves
            # below will touch (their loads then overlap instead of queueing)
            for q in range(5 if large else 0):
                k = changed if q == 0 else nbrs[q - 1]
                if val[k] > n_species:
                    continue
                word = site[k]
                old_b = bucket_of_key[word & key_mask]
                if old_b >= 0 and old_b != bucket_of_key[(word & key_mask) + (
                        (new - old) * key_stride if q == 0 else delta)]:
                    _prefetch(members, old_b, word >> key_bits)
                    _prefetch1(site, members[old_b, bcount[old_b] - 1])
            for q in range(5):
                if q == 0:
                    k = changed
                    shift = (new - old) * key_stride
                else:
                    k = nbrs[q - 1]
                    if val[k] > n_species:  # reservoir sites carry no events
                        continue
                    shift = delta
                word = site[k]
                old_key = word & key_mask
                new_key = old_key + shift
                old_b = bucket_of_key[old_key]
                new_b = bucket_of_key[new_key]
                word += shift
                if old_b != new_b:
                    if old_b >= 0:
                        p = word >> key_bits
                        last = members[old_b, bcount[old_b] - 1]
                        members[old_b, p] = last
                        site[last] = (p << key_bits) | (site[last] & key_mask)
                        bcount[old_b] -= 1
                    if new_b >= 0:
                        members[new_b, bcount[new_b]] = k
                        word = (bcount[new_b] << key_bits) | new_key
                        bcount[new_b] += 1
                site[k] = word
        counts[chosen_pid] += 1
        events += 1
    if absorbed and t_end < np.inf:  # nothing happens any more: the state holds until t_end
        while rec < n_rec and (rec + 1) * record_dt <= t_end:
            for q in range(n_species + 1):
                records[rec, q] = scount[q] / n_sites
            rec += 1
        for q in range(n_species + 1):
            integral[q] += scount[q] * (t_end - t)
        t = t_end
    return events, t, rec, absorbed


# -- slow reference ---------------------------------------------------------------------

def reference_bkl(val: np.ndarray, n_rows: int, n_cols: int, n_species: int, processes,
                  reservoir: np.ndarray | None, bucket_rates: np.ndarray, n_events: int, seed: int):
    """Slow NumPy/Python BKL with brute-force rates, for testing the kernel.

    Every site's rate list is recomputed from scratch from the process
    definitions (``processes``: tuples (before, after, rate) with 1- or
    2-tuples of species; ``reservoir[r, s]`` the probability that reservoir
    r holds s). It shares only the selection convention of
    :func:`run_events` (buckets ordered as ``bucket_rates``, swap-remove
    member lists updated in the same order, random numbers from
    ``RandomState(seed)``), so with the same seed the two must produce the
    same trajectory. Returns (val, time, counts).
    """
    rng = ReferenceRandom(seed)
    site_rng = ReferenceRandom(seed ^ int(SITE_STREAM))
    val = val.copy()
    n = val.size

    def site_events(i):
        s = val[i]
        if s > n_species:
            return []
        out = [(rate, after[0], -1, 0, p) for p, (before, after, rate) in enumerate(processes)
               if len(before) == 1 and before[0] == s and rate > 0]
        for j in _neighbours(i, n_rows, n_cols):
            v = val[j]
            for p, (before, after, rate) in enumerate(processes):
                if len(before) != 2 or rate <= 0:
                    continue
                if v <= n_species:
                    if before == (s, v):
                        out.append((rate, after[0], j, after[1], p))
                else:  # reservoir neighbour: both orientations, reservoir unchanged
                    prob = reservoir[v - n_species - 1]
                    if before[0] == s and prob[before[1]] * rate > 0:
                        out.append((rate * prob[before[1]], after[0], -1, 0, p))
                    if before[1] == s and prob[before[0]] * rate > 0:
                        out.append((rate * prob[before[0]], after[1], -1, 0, p))
        return out

    def bucket_of(i):
        total = sum(e[0] for e in site_events(i))
        if total <= 0:
            return -1
        hit = np.flatnonzero(np.isclose(bucket_rates, total, rtol=1e-12, atol=0))
        assert hit.size == 1, "reference: site rate not among the kernel's bucket rates"
        return int(hit[0])

    members = [[] for _ in bucket_rates]
    where = np.full(n, -1)
    for i in range(n):
        b = bucket_of(i)
        where[i] = b
        if b >= 0:
            members[b].append(i)

    def rebucket(k):
        b = bucket_of(k)
        if b != where[k]:
            if where[k] >= 0:
                lst = members[where[k]]
                p = lst.index(k)
                lst[p] = lst[-1]
                lst.pop()
            if b >= 0:
                members[b].append(k)
            where[k] = b

    def set_site(i, new):
        if val[i] == new:
            return
        val[i] = new
        rebucket(i)
        for k in _neighbours(i, n_rows, n_cols):
            if val[k] <= n_species:
                rebucket(k)

    t, counts = 0.0, np.zeros(len(processes), dtype=np.int64)
    for _ in range(n_events):
        weights = np.array([len(m) * r for m, r in zip(members, bucket_rates)])
        total = 0.0
        for w in weights:
            total += w
        if total <= 0:
            break
        x = site_rng.random() * total
        b = 0
        while b < len(weights) - 1 and not x < weights[b]:
            x -= weights[b]
            b += 1
        while not members[b]:
            b -= 1
        m = min(int(x / bucket_rates[b]), len(members[b]) - 1)
        i = members[b][m]
        events = site_events(i)
        target = rng.random() * sum(e[0] for e in events)
        chosen = events[-1]
        for e in events:
            target -= e[0]
            if target < 0:
                chosen = e
                break
        t += -np.log(1.0 - rng.random()) / total
        rate, new_i, j, new_j, p = chosen
        set_site(i, new_i)
        if j >= 0:
            set_site(j, new_j)
        counts[p] += 1
    return val, t, counts
