// TorchSharp's RNG, thread count and dispose-scope statistics are process-wide: run test classes one at a time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
