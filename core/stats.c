/* Statistics: a snapshot assembled from central (objects out of spans),
 * thread caches (objects waiting in lists, tiny counters), the heap (pages)
 * and the large-block counters. Exact when no other thread allocates
 * meanwhile. See malloc.c. */
#include <string.h>

#include "alloclab_policy.h"
#include "internal.h"

void alc_stats_get(alc_stats_t *st) {
    alc__ensure_started();
    memset(st, 0, sizeof *st);
    st->page_size = (uint32_t)alc__page_size;
    st->nclasses = alc__nclasses;
    uint64_t cached[ALC_NLISTS] = {0};
    alc__cache_counters(st, cached);
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        uint64_t spans, nalloc, taken;
        alc__central_stats(i, &spans, &nalloc, &taken);
        uint64_t in_use = nalloc > cached[i] ? nalloc - cached[i] : 0;
        if (i < alc__nclasses) {
            alc_class_stats_t *cs = &st->classes[i];
            cs->size = alc__class_size[i];
            cs->objects_in_use = in_use;
            cs->bytes_in_use = in_use * cs->size;
            cs->spans = spans;
            cs->mallocs = taken;
            st->small_bytes_in_use += cs->bytes_in_use;
        }
    }
    alc__large_stats(st);
    alc__heap_stats(st);
    alc_mesh_stats_t m;
    alc__mesh_stats(&m);
    st->meshes = m.meshes;
    st->mesh_aliases = m.aliases;
    st->mesh_pages_returned = m.pages_returned;
    st->mesh_bytes_copied = m.bytes_copied;
    st->mesh_ns = m.ns;
    st->requested_tracked = alc__config.track_requested;
    st->live_requested_bytes = st->large_bytes_requested + st->tiny_live_bytes;
    if (st->requested_tracked)
        for (unsigned i = 0; i < alc__nclasses; i++)
            st->live_requested_bytes += st->classes[i].requested_bytes;
}

static const char *policy_name(const alc_policy_ref_t *r) { return r->policy ? r->policy->name : "none"; }

/* The settings in effect, as "alloclab.config.<key> <value>": what ran. */
static void write_settings(FILE *out) {
    const alc_config_t *c = &alc__config;
#define CFG(key, fmt, v) fprintf(out, "alloclab.config.%s " fmt "\n", key, v)
    CFG("source", "%s", c->source);
    CFG("page_size", "%u", c->page_size);
    CFG("size_classes.count", "%u", c->nclasses);
    CFG("size_classes.max_small", "%u", c->nclasses ? c->classes[c->nclasses - 1].size : 0);
    CFG("tiny.width", "%u", c->tiny_width);
    CFG("tiny.align", "%u", c->tiny_align);
    CFG("tiny.plugin", "%s", policy_name(&c->tiny_policy));
    CFG("span.plugin", "%s", policy_name(&c->span_policy));
    CFG("page_source.plugin", "%s", policy_name(&c->source_policy));
    CFG("release.plugin", "%s", policy_name(&c->release_policy));
    CFG("heap.release_threshold", "%zu", c->release_threshold);
    CFG("heap.cache_idle_ms", "%u", c->cache_idle_ms);
    CFG("profile.rate", "%zu", c->profile_rate);
    CFG("profile.active", "%s", alc__profile_active() ? "true" : "false");
    CFG("stats.track_requested", "%s", c->track_requested ? "true" : "false");
    static const char *const fills[] = {"none", "zero", "pattern"};
    CFG("hardening.check_free", "%s", c->hardening.check_free ? "true" : "false");
    CFG("hardening.canary", "%s", c->hardening.canary ? "true" : "false");
    CFG("hardening.fill_free", "%s", c->hardening.fill_free ? "true" : "false");
    CFG("hardening.fill_malloc", "%s", fills[c->hardening.fill_malloc % 3]);
    CFG("hardening.quarantine", "%zu", c->hardening.quarantine);
    CFG("hardening.zero_size", "%s", c->hardening.zero_size ? "true" : "false");
    CFG("hardening.cxx_delete", "%s", c->hardening.cxx_delete ? "true" : "false");
    CFG("hardening.guard_pages", "%s", c->hardening.guard_pages ? "true" : "false");
    CFG("hardening.check_copy", "%s", c->hardening.check_copy ? "true" : "false");
    CFG("hardening.delay_large", "%s", c->hardening.delay_large ? "true" : "false");
    CFG("hardening.shuffle", "%s", c->hardening.shuffle ? "true" : "false");
    CFG("hardening.seal_free", "%s", c->hardening.seal_free ? "true" : "false");
    CFG("compact.mesh", "%s", c->compact.mesh ? "true" : "false");
    CFG("compact.ratio", "%g", c->compact.ratio);
    CFG("compact.interval_ms", "%u", c->compact.interval_ms);
    CFG("debug.sbrk", "%s", c->sbrk ? "true" : "false");
#undef CFG
}

void alc_stats_write_kv(FILE *out) {
    alc_stats_t st;
    alc_stats_get(&st);
    write_settings(out);
#define KV(field) fprintf(out, "alloclab.%s %llu\n", #field, (unsigned long long)st.field)
    KV(live_requested_bytes);
    KV(requested_tracked);
    KV(small_bytes_in_use);
    KV(large_bytes_requested);
    KV(large_bytes_in_use);
    KV(large_allocs);
    KV(tiny_requests);
    KV(tiny_blocks);
    KV(tiny_live_pieces);
    KV(tiny_live_bytes);
    KV(spans_in_use);
    KV(spans_free);
    KV(pages_mapped);
    KV(pages_free);
    KV(pages_released);
    KV(pages_returned_total);
    KV(pages_returned_on_free);
    KV(pages_returned_background);
    KV(pages_returned_on_request);
    KV(release_ns);
    KV(cached_bytes);
    KV(threads);
    KV(caches_emptied);
    KV(meshes);
    KV(mesh_aliases);
    KV(mesh_pages_returned);
    KV(mesh_bytes_copied);
    KV(mesh_ns);
    KV(page_size);
    KV(nclasses);
#undef KV
    for (unsigned i = 0; i < st.nclasses; i++) {
        const alc_class_stats_t *c = &st.classes[i];
        fprintf(out,
                "alloclab.class.%u.size %u\nalloclab.class.%u.objects_in_use %llu\n"
                "alloclab.class.%u.bytes_in_use %llu\nalloclab.class.%u.requested_bytes %llu\n"
                "alloclab.class.%u.spans %llu\nalloclab.class.%u.mallocs %llu\n",
                i + 1, c->size, i + 1, (unsigned long long)c->objects_in_use, i + 1,
                (unsigned long long)c->bytes_in_use, i + 1, (unsigned long long)c->requested_bytes,
                i + 1, (unsigned long long)c->spans, i + 1, (unsigned long long)c->mallocs);
    }
}

void alc_stats_print(FILE *out) {
    alc_stats_t st;
    alc_stats_get(&st);
    double mib = 1024.0 * 1024.0;
    fprintf(out, "alloclab stats (%s, page %u, %u classes, tiny width %u, align %u)\n",
            alc__config.source, st.page_size, st.nclasses, alc__tiny_width, alc__config.tiny_align);
    fprintf(out, "  small in use     %12llu bytes\n", (unsigned long long)st.small_bytes_in_use);
    fprintf(out, "  large in use     %12llu bytes in %llu blocks (%llu requested)\n",
            (unsigned long long)st.large_bytes_in_use, (unsigned long long)st.large_allocs,
            (unsigned long long)st.large_bytes_requested);
    fprintf(out, "  tiny             %12llu requests, %llu blocks, %llu live pieces (%llu bytes)\n",
            (unsigned long long)st.tiny_requests, (unsigned long long)st.tiny_blocks,
            (unsigned long long)st.tiny_live_pieces, (unsigned long long)st.tiny_live_bytes);
    fprintf(out, "  thread caches    %12llu bytes in %llu threads (%llu emptied while their threads slept)\n",
            (unsigned long long)st.cached_bytes, (unsigned long long)st.threads,
            (unsigned long long)st.caches_emptied);
    fprintf(out, "  spans            %12llu in use, %llu free\n", (unsigned long long)st.spans_in_use,
            (unsigned long long)st.spans_free);
    fprintf(out, "  pages            %12llu mapped (%.1f MiB), %llu free, %llu released, %llu returned in all\n",
            (unsigned long long)st.pages_mapped, (double)st.pages_mapped * st.page_size / mib,
            (unsigned long long)st.pages_free, (unsigned long long)st.pages_released,
            (unsigned long long)st.pages_returned_total);
    fprintf(out, "  released by      %12llu pages on free, %llu by the background thread, %llu on request (%.1f ms)\n",
            (unsigned long long)st.pages_returned_on_free, (unsigned long long)st.pages_returned_background,
            (unsigned long long)st.pages_returned_on_request, (double)st.release_ns / 1e6);
    if (alc__config.compact.mesh)
        fprintf(out, "  meshing          %12llu spans meshed (%llu now), %llu pages returned, %llu bytes copied (%.1f ms)\n",
                (unsigned long long)st.meshes, (unsigned long long)st.mesh_aliases,
                (unsigned long long)st.mesh_pages_returned, (unsigned long long)st.mesh_bytes_copied,
                (double)st.mesh_ns / 1e6);
    fprintf(out, "  %5s %9s %12s %14s %7s\n", "class", "bytes/obj", "objects", "bytes in use", "spans");
    for (unsigned i = 0; i < st.nclasses; i++) {
        const alc_class_stats_t *c = &st.classes[i];
        if (c->spans == 0 && c->objects_in_use == 0)
            continue;
        fprintf(out, "  %5u %9u %12llu %14llu %7llu\n", i + 1, c->size,
                (unsigned long long)c->objects_in_use, (unsigned long long)c->bytes_in_use,
                (unsigned long long)c->spans);
    }
}
