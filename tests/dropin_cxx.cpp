// C++ containers across threads, for a process running on liballoclab.so by
// LD_PRELOAD (test_dropin.c runs it on glibc and on alloclab under several
// configs and compares the output, which depends on nothing but the input).
//
// Four threads stand in a ring. In each round, thread t builds a
// std::map<std::string, std::vector<std::string>> from a seed (round, t),
// moves it into the queue of thread t+1 (a mutex and a condition variable),
// then takes the map thread t-1 sent it, checks it against the seed it
// carries, folds it into its checksum and destroys it: every map is built in
// one thread and freed in another. std::string (short and long, past the
// small-string buffer), std::vector growth, std::unordered_map, operator new
// for over-aligned types (aligned_alloc underneath) and blocks above 32 KiB
// are all exercised. Output: the per-thread counts and one checksum (sums of
// per-map hashes, so the order of events does not matter); exit status 1 if a
// map arrived damaged.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 60;
constexpr int kEntries = 1500;

struct Parcel {
    uint64_t seed = 0;
    std::map<std::string, std::vector<std::string>> map;
    std::unordered_map<uint64_t, std::string> index;
    std::vector<uint64_t> big;   // above the largest small class: a large block
};

struct alignas(64) Line {    // operator new(size_t, align_val_t): aligned_alloc
    uint64_t v[8];
};

struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::unique_ptr<Parcel>> items;

    void push(std::unique_ptr<Parcel> p) {
        {
            std::lock_guard<std::mutex> g(mu);
            items.push_back(std::move(p));
        }
        cv.notify_one();
    }
    std::unique_ptr<Parcel> pop() {
        std::unique_lock<std::mutex> g(mu);
        cv.wait(g, [this] { return !items.empty(); });
        auto p = std::move(items.front());
        items.pop_front();
        return p;
    }
};

Queue queues[kThreads];
std::atomic<int> damaged{0};

uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t fnv(const std::string &s, uint64_t h = 1469598103934665603ull) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

// A word of 1..60 letters from x: short ones stay in std::string's own
// buffer, long ones are heap blocks of many sizes.
std::string word(uint64_t x) {
    size_t len = 1 + (x % 7 == 0 ? x % 60 : x % 14);
    std::string s;
    for (size_t i = 0; i < len; i++)
        s += static_cast<char>('a' + (mix(x + i) % 26));
    return s;
}

std::unique_ptr<Parcel> build(uint64_t seed) {
    auto p = std::make_unique<Parcel>();
    p->seed = seed;
    for (int i = 0; i < kEntries; i++) {
        uint64_t x = mix(seed * 1000003u + static_cast<uint64_t>(i));
        std::string key = word(x) + "#" + std::to_string(i);
        auto &vals = p->map[key];
        int nvals = static_cast<int>(x % 5);
        for (int k = 0; k < nvals; k++)
            vals.push_back(word(mix(x + static_cast<uint64_t>(k) + 1)));
        if (i % 3 == 0)
            p->index.emplace(x, key);
    }
    p->big.resize(5000 + seed % 1000);   // 40 KiB and more
    for (size_t i = 0; i < p->big.size(); i++)
        p->big[i] = mix(seed + i);
    return p;
}

// The hash of a parcel's contents, in the map's (sorted) order.
uint64_t digest(const Parcel &p) {
    uint64_t h = 1469598103934665603ull;
    for (const auto &kv : p.map) {
        h = fnv(kv.first, h);
        for (const auto &v : kv.second)
            h = fnv(v, h ^ 0x5bd1e995u);
    }
    uint64_t idx = 0;
    for (const auto &kv : p.index)   // unordered: combined order-free
        idx += mix(kv.first) ^ fnv(kv.second);
    uint64_t big = 0;
    for (uint64_t v : p.big)
        big = big * 31 + v;
    return mix(h ^ mix(idx) ^ mix(big + p.big.size()));
}

void worker(int t, uint64_t *sum, uint64_t *entries) {
    uint64_t s = 0, n = 0;
    std::vector<std::unique_ptr<Line[]>> lines;
    for (int r = 0; r < kRounds; r++) {
        uint64_t seed = static_cast<uint64_t>(r) * kThreads + static_cast<uint64_t>(t);
        queues[(t + 1) % kThreads].push(build(seed));
        auto got = queues[t].pop();
        // The sender's seed says what the map must hold: rebuild and compare.
        uint64_t d = digest(*got);
        if ((r & 7) == 0 && digest(*build(got->seed)) != d)
            damaged++;
        if (got->seed % kThreads != static_cast<uint64_t>((t + kThreads - 1) % kThreads))
            damaged++;
        s += d;
        n += got->map.size();
        // Over-aligned arrays, kept a while and freed later (by this thread).
        std::unique_ptr<Line[]> l(new Line[1 + r % 9]);
        if (reinterpret_cast<uintptr_t>(l.get()) % alignof(Line) != 0)
            damaged++;
        l[0].v[0] = d;
        lines.push_back(std::move(l));
        if (lines.size() > 5)
            lines.erase(lines.begin());
        // got (the map built by thread t-1) is destroyed here.
    }
    *sum = s;
    *entries = n;
}

}  // namespace

int main() {
    uint64_t sums[kThreads], entries[kThreads];
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++)
        threads.emplace_back(worker, t, &sums[t], &entries[t]);
    for (auto &th : threads)
        th.join();
    uint64_t total = 0;
    for (int t = 0; t < kThreads; t++) {
        std::printf("thread %d: %llu entries checksum %016llx\n", t,
                    static_cast<unsigned long long>(entries[t]),
                    static_cast<unsigned long long>(sums[t]));
        total += sums[t];
    }
    std::printf("total checksum %016llx\n", static_cast<unsigned long long>(total));
    std::printf("%s\n", damaged.load() ? "DAMAGED" : "ok");
    return damaged.load() ? 1 : 0;
}
