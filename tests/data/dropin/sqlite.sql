-- An in-memory database of 100,000 rows for test_dropin.c: every query's
-- output is deterministic, so sqlite3 on alloclab must print what it prints
-- on glibc. Run as: sqlite3 :memory: < sqlite.sql
.headers off
.mode list
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER, pad TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000)
INSERT INTO t
  SELECT i,
         printf('key%06d', (i * 7919) % 100003),
         (i * 2654435761) % 1000003,
         substr('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 1 + i % 17, i % 53)
  FROM c;
SELECT count(*), sum(v), min(k), max(k), sum(length(pad)) FROM t;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_v ON t(v);
SELECT k, v FROM t WHERE k BETWEEN 'key010000' AND 'key010050' ORDER BY k;
SELECT v % 97 AS g, count(*), sum(v), max(pad) FROM t GROUP BY g ORDER BY g LIMIT 20;
CREATE TABLE u AS SELECT id, v % 1000 AS w, upper(pad) || k AS s FROM t WHERE id % 3 = 0;
SELECT count(*), sum(w), sum(length(s)) FROM u;
SELECT t.id, u.w, length(u.s) FROM t JOIN u ON u.id = t.id WHERE t.v < 200 ORDER BY t.id;
SELECT w, count(*), group_concat(id, ',') FROM (SELECT w, id FROM u WHERE w < 3 ORDER BY id) GROUP BY w;
UPDATE t SET pad = pad || pad WHERE id % 5 = 0;
DELETE FROM t WHERE id % 7 = 0;
SELECT count(*), sum(length(pad)), total(v) FROM t;
SELECT k FROM t ORDER BY v DESC, k LIMIT 10;
WITH s AS (SELECT substr(k, 4, 2) AS p, count(*) AS n FROM t GROUP BY p)
SELECT p, n FROM s ORDER BY n DESC, p LIMIT 10;
VACUUM;
SELECT count(*) FROM t WHERE pad LIKE '%xyz%';
