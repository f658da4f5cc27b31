// keygate: the command line (contract: shared/contract.md, "Command line").

#include <mimalloc.h>

#include "gateway/cli.hpp"
#include "gateway/memory_trim.hpp"

namespace {

// The process allocates through mimalloc (linked ahead of libc, it serves malloc and new
// everywhere): bench/ measured 6% less CPU per proxied request than glibc's malloc at 16
// connections and 9% less at 256, where glibc's free lists spend the most.
// Freed pages stay committed for mimalloc's default delay (25 ms) and are given back once a
// second by the server (gateway/memory_trim.hpp): giving them back at once (a delay of 0, as
// this was until the eighth round) cost a page fault and an madvise per stream relayed, and
// without the trim, pages freed for good by connections gone idle stayed resident (11.2 instead
// of 7.8 KB per idle stream with 16 KB requests). MIMALLOC_DECOMMIT_DELAY still overrides it.
void trim_allocator() {
  mi_collect(true);
}

}  // namespace

int main(int argc, char** argv) {
  keygate::gateway::set_memory_trim(&trim_allocator);
  return keygate::gateway::run_cli(argc, argv);
}
