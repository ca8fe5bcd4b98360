// Servers bind real sockets and some tests measure what a whole process does: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
