using MLNetExtensions.Transforms.Excp;

namespace MLNetExtensions.Tests.Excp;

/// <summary>
/// Cheap, deterministic stand-in for a training run: Adam (PyTorch update rule) on noisy quadratic losses, with
/// per-row gradient scales like real layers. Gives realistic residual / moment statistics for chain and fuzz tests.
/// </summary>
internal static class SyntheticTraining
{
    public static List<TrainingCheckpoint> Run(int seed, int checkpoints, int stepsBetween = 20, (string, long[])[]? layout = null,
        double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.95)
    {
        layout ??= new (string, long[])[] { ("fc1.weight", new long[] { 64, 48 }), ("fc1.bias", new long[] { 64 }), ("fc2.weight", new long[] { 10, 64 }), ("fc2.bias", new long[] { 10 }) };
        var rng = new Random(seed);
        var ws = layout.Select(l => Enumerable.Range(0, (int)l.Item2.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)(0.05 * Normal(rng))).ToArray()).ToArray();
        var targets = ws.Select(w => w.Select(_ => (float)(0.1 * Normal(rng))).ToArray()).ToArray();
        var scales = ws.Select(w => w.Select(_ => (float)Math.Exp(0.5 * Normal(rng))).ToArray()).ToArray();
        var m = ws.Select(w => new float[w.Length]).ToArray();
        var v = ws.Select(w => new float[w.Length]).ToArray();
        var result = new List<TrainingCheckpoint>();
        int step = 0;
        for (int c = 0; c < checkpoints; c++)
        {
            for (int s = 0; s < (c == 0 ? stepsBetween * 2 : stepsBetween); s++)
            {
                step++;
                for (int t = 0; t < ws.Length; t++)
                    for (int i = 0; i < ws[t].Length; i++)
                    {
                        float g = scales[t][i] * (0.01f * (ws[t][i] - targets[t][i]) + 0.01f * (float)Normal(rng));
                        m[t][i] = (float)(beta1 * m[t][i] + (1 - beta1) * g);
                        v[t][i] = (float)(beta2 * v[t][i] + (1 - beta2) * g * g);
                        double mh = m[t][i] / (1 - Math.Pow(beta1, step)), vh = v[t][i] / (1 - Math.Pow(beta2, step));
                        ws[t][i] -= (float)(lr * mh / (Math.Sqrt(vh) + 1e-8));
                    }
            }
            result.Add(new TrainingCheckpoint(step,
                layout.Select((l, t) => new CheckpointParameter(l.Item1, l.Item2, (float[])ws[t].Clone(), new AdamState((float[])m[t].Clone(), (float[])v[t].Clone(), step)))
                    .Append(new CheckpointParameter("bn.running_mean", new long[] { 3 }, new[] { 0.5f, -1f, (float)step })),
                new AdamHyperParameters(lr, beta1, beta2, 1e-8, 0, false),
                new Dictionary<string, byte[]> { ["scheduler"] = BitConverter.GetBytes(step) }));
        }
        return result;
    }

    public static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    public static double Rmse(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Average());
}
