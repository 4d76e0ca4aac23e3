/* rscript: the store's Lua scripts, their keys and ARGV (see rscript.h). */
#include "rscript.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* What every keyed script starts with: KEYS cart and record, ARGV ttl, key,
 * fingerprint, entries kept. A cart's fields travel joined by newlines ("v",
 * its version, then "s:<sku>", "<qty> <price>" per line). The record holds an
 * entry per remembered key, "k:<key>" = "<fingerprint> <the cart's fields
 * after the change>", and a ring of the entries' names by the version a change
 * made, "r:<version mod keep>" = "k:<key>": so the keys of the last `keep`
 * changes are remembered. slot(v) names the entry and the ring slot of the
 * change that makes version v; remembered(v) looks the key up and reads that
 * slot in one HMGET (nil when not remembered); remember(all) stores the entry
 * and drops the one the slot named; at slot 0 it also sets "m" (a marker an
 * unkeyed change sets to "1") to 65 bytes, past Redis's hash-max-listpack-value
 * (64): a record of small entries then moves from a listpack, where every
 * lookup scans all entries, to a hash table. An entry "k:<key>" = "<slot>" is
 * one of the previous layout (the entry in "o:<slot>" = "<key> <fingerprint>
 * <fields>"): still read, no longer written. */
#define RS_PRELUDE \
    "local k, ik, ttl, key, fp = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]\n" \
    "local kf, rf, gone\n" \
    "local function slot(v)\n" \
    "  kf, rf = 'k:' .. key, string.format('r:%d', v % tonumber(ARGV[4]))\n" \
    "end\n" \
    "local function remembered(v)\n" \
    "  if key == '' then return nil end\n" \
    "  slot(v)\n" \
    "  local got = redis.call('HMGET', ik, kf, rf)\n" \
    "  local e = got[1]\n" \
    "  gone = got[2]\n" \
    "  if not e then return nil end\n" \
    "  local efp, snap = string.match(e, '^(%d+) (.*)$')\n" \
    "  if not efp and string.match(e, '^%d+$') then\n" \
    "    local okey\n" \
    "    okey, efp, snap = string.match(redis.call('HGET', ik, 'o:' .. e) or '',\n" \
    "                                   '^(%S+) (%d+) (.*)$')\n" \
    "    if okey ~= key then return nil end\n" \
    "  end\n" \
    "  if not efp then return nil end\n" \
    "  if efp ~= fp then return {'rej', 'idempotency_key_reused'} end\n" \
    "  redis.call('EXPIRE', k, ttl)\n" \
    "  redis.call('EXPIRE', ik, ttl)\n" \
    "  return {'replay', snap}\n" \
    "end\n" \
    "local function remember(all)\n" \
    "  if key ~= '' then\n" \
    "    if gone then redis.call('HDEL', ik, gone) end\n" \
    "    local e = fp .. ' ' .. all\n" \
    "    if rf ~= 'r:0' then redis.call('HSET', ik, kf, e, rf, kf)\n" \
    "    else redis.call('HSET', ik, kf, e, rf, kf, 'm', string.rep('m', 65)) end\n" \
    "  else redis.call('HSETNX', ik, 'm', '1') end\n" \
    "  redis.call('EXPIRE', ik, ttl)\n" \
    "end\n" \
    "local function fields() return table.concat(redis.call('HGETALL', k), '\\n') end\n"

/* The texts; every reply is {"ok", <the cart's fields joined> or {}}, {"rej",
 * <reason>} or {"replay", <the fields as they were after the remembered
 * change>}. Every limit arrives in ARGV (from cart.h and idem.h): the texts
 * hold none. */
static const char *const rscript_texts[RSCRIPT_COUNT] = {
    [RSCRIPT_CREATE] = /* ARGV: ttl, key, fp, keep */
    RS_PRELUDE
    "if redis.call('EXISTS', k) == 1 then return remembered(0) or {'rej', 'exists'} end\n"
    "if key ~= '' then slot(0) end\n"
    "redis.call('HSET', k, 'v', '0')\n"
    "redis.call('EXPIRE', k, ttl)\n"
    "local all = fields()\n"
    "remember(all)\n"
    "return {'ok', all}\n",
    [RSCRIPT_GET] = /* ARGV: ttl */
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'rej', 'not_found'} end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
    "return {'ok', table.concat(redis.call('HGETALL', KEYS[1]), '\\n')}\n",
    [RSCRIPT_DEL] = /* ARGV: ttl, key, fp, keep, if_match (rs_arg_match) */
    RS_PRELUDE
    "if redis.call('EXISTS', k) == 0 then return {'rej', 'not_found'} end\n"
    "local again = remembered(0)\n"
    "if again then return again end\n"
    "if ARGV[5] ~= '' and not string.find(ARGV[5], ',' .. redis.call('HGET', k, 'v') .. ',',\n"
    "  1, true) then return {'rej', 'version_conflict'} end\n"
    "redis.call('DEL', k, ik)\n"
    "return {'ok', {}}\n",
    /* ARGV: ttl, key, fp, keep, max_items, op, sku, qty, price ('' for none),
     * if_match (rs_arg_match), qty_max, price_max, sku_max. The checks and their
     * order are those of cart_apply (cart.c); reasons are cart_status_name()s.
     * Numbers arrive clamped (C side) and are parsed strictly. */
    [RSCRIPT_CHANGE] =
    RS_PRELUDE
    "local op, sku = ARGV[6], ARGV[7]\n"
    "local function int(s)\n"
    "  if not string.match(s, '^%-?%d+$') then error('bad number') end\n"
    "  return tonumber(s)\n"
    "end\n"
    "local function rej(why) return {'rej', why} end\n"
    "local maxi, qty, qmax, pmax, smax = int(ARGV[5]), int(ARGV[8]), int(ARGV[11]),\n"
    "  int(ARGV[12]), int(ARGV[13])\n"
    "local price = nil\n"
    "if ARGV[9] ~= '' then price = int(ARGV[9]) end\n"
    "local v = redis.call('HGET', k, 'v')\n"
    "if not v then return rej('not_found') end\n"
    "local nv = tonumber(v) + 1\n"
    "local again = remembered(nv)\n"
    "if again then return again end\n"
    "if ARGV[10] ~= '' and not string.find(ARGV[10], ',' .. v .. ',', 1, true) then\n"
    "  return rej('version_conflict') end\n"
    "if #sku > smax or not string.match(sku, '^[%w%._%-]+$') then return rej('invalid_sku') end\n"
    "if price and (price < 0 or price > pmax) then return rej('price_out_of_range') end\n"
    "local f = 's:' .. sku\n"
    "local cur = redis.call('HGET', k, f)\n"
    "local oq, oldp = 0, nil\n"
    "if cur then\n"
    "  local a, b = string.match(cur, '^(%d+) (%d+)$')\n"
    "  if not a then error('corrupt line') end\n"
    "  oq, oldp = tonumber(a), b\n"
    "end\n"
    "local nq\n"
    "if op == 'add' then\n"
    "  if qty < 1 or qty > qmax or oq + qty > qmax then return rej('qty_out_of_range') end\n"
    "  nq = oq + qty\n"
    "elseif op == 'set' then\n"
    "  if qty < 0 or qty > qmax then return rej('qty_out_of_range') end\n"
    "  if qty == 0 and not cur then return rej('no_such_item') end\n"
    "  nq = qty\n"
    "elseif op == 'remove' then\n"
    "  if not cur then return rej('no_such_item') end\n"
    "  nq = 0\n"
    "else return rej('qty_out_of_range') end\n"
    "if not cur then\n"
    "  if not price then return rej('price_required') end\n"
    "  if redis.call('HLEN', k) - 1 >= maxi then return rej('cart_full') end\n"
    "end\n"
    "if nq == 0 then redis.call('HDEL', k, f) redis.call('HSET', k, 'v', nv)\n"
    "else redis.call('HSET', k, f, nq .. ' ' .. (price or oldp), 'v', nv) end\n"
    "redis.call('EXPIRE', k, ttl)\n"
    "local all = fields()\n"
    "remember(all)\n"
    "return {'ok', all}\n",
};

/* The Lua text of script id (see rscript.h). */
const char *rscript_text(enum rscript_id id)
{
    return (unsigned)id < RSCRIPT_COUNT ? rscript_texts[id] : NULL;
}

/* Build the keys "cart:{id}" and "idem:{id}" (see rscript.h). */
bool rscript_keys(const char *id, struct rscript_keys *k)
{
    size_t n = id ? strnlen(id, CART_ID_MAX + 1) : 0;

    if (n == 0 || n > CART_ID_MAX)
        return false;
    snprintf(k->cart, sizeof k->cart, "cart:{%s}", id);
    snprintf(k->idem, sizeof k->idem, "idem:{%s}", id);
    return true;
}

/* Set ARGV i to the decimal v (the rest of a's slots untouched). */
static void rs_arg_num(struct rscript_args *a, int i, long long v)
{
    snprintf(a->num[i], sizeof(a->num[i]), "%lld", v);
    a->v[i] = a->num[i];
}

/* Set ARGV i to an If-Match condition: '' for none, else its versions
 * between commas (",3,5,"; "," for a list naming none), which the scripts
 * search for ",<version>," as plain text. */
static void rs_arg_match(struct rscript_args *a, int i, const struct cart_match *m)
{
    size_t len = 0;
    a->match[0] = '\0';
    a->v[i] = a->match;
    if (!m->set)
        return;
    a->match[len++] = ',';
    for (unsigned k = 0; k < m->n && k < CART_MATCH_MAX; k++)
        len += (size_t)snprintf(a->match + len, sizeof a->match - len, "%lld,",
                                (long long)m->v[k]);
    a->match[len] = '\0';
}

/* ARGV of get (see rscript.h). */
void rscript_args_ttl(struct rscript_args *a, int ttl)
{
    a->n = 1;
    rs_arg_num(a, 0, ttl);
}

/* The ARGV every keyed script starts with: ttl, key, fingerprint, entries kept. */
static void rs_args_keyed(struct rscript_args *a, int ttl, const struct store_idem *ik)
{
    bool keyed = store_idem_keyed(ik);
    rs_arg_num(a, 0, ttl);
    a->v[1] = keyed ? ik->key : "";
    snprintf(a->num[2], sizeof(a->num[2]), "%llu", keyed ? (unsigned long long)ik->fp : 0ULL);
    a->v[2] = a->num[2];
    rs_arg_num(a, 3, IDEM_KEEP);
}

/* ARGV of create (see rscript.h). */
void rscript_args_create(struct rscript_args *a, int ttl, const struct store_idem *ik)
{
    a->n = 4;
    rs_args_keyed(a, ttl, ik);
}

/* ARGV of del (see rscript.h). */
void rscript_args_del(struct rscript_args *a, int ttl, const struct cart_match *if_match,
                      const struct store_idem *ik)
{
    a->n = 5;
    rs_args_keyed(a, ttl, ik);
    rs_arg_match(a, 4, if_match);
}

/* Clamp v into lo..hi: values past a limit keep every comparison the script makes. */
static long long rs_clamp(int64_t v, long long lo, long long hi)
{
    return v < lo ? lo : v > hi ? hi : (long long)v;
}

/* ARGV of change (see rscript.h). */
enum cart_status rscript_args_change(struct rscript_args *a, const struct cart_change *chg,
                                     int ttl, size_t max_items, const struct store_idem *ik)
{
    static const char *const ops[] = { "add", "set", "remove" };

    if ((unsigned)chg->op > CART_OP_REMOVE)
        return CART_QTY_RANGE;    /* what cart_apply says to a non-op */
    if (!cart_sku_valid(chg->sku, strnlen(chg->sku, sizeof(chg->sku))))
        return CART_INVALID_SKU;
    a->n = 13;
    rs_args_keyed(a, ttl, ik);
    snprintf(a->num[4], sizeof(a->num[4]), "%zu", max_items);
    a->v[4] = a->num[4];
    a->v[5] = ops[chg->op];
    a->v[6] = chg->sku;
    rs_arg_num(a, 7, rs_clamp(chg->qty, -1, CART_QTY_MAX + 1));
    a->num[8][0] = a->num[9][0] = '\0';
    a->v[8] = a->num[8];
    a->v[9] = a->num[9];
    if (chg->has_price)
        rs_arg_num(a, 8, rs_clamp(chg->price, -1, CART_PRICE_MAX + 1));
    rs_arg_match(a, 9, &chg->if_match);
    rs_arg_num(a, 10, CART_QTY_MAX);
    rs_arg_num(a, 11, CART_PRICE_MAX);
    rs_arg_num(a, 12, CART_SKU_MAX);
    return CART_OK;
}
