using System.Text.Json;
using MLNetExtensions.Transforms.Excp;
using MLNetExtensions.Core.IO;
using MLNetExtensions.Tests.Infrastructure;

namespace MLNetExtensions.Tests.Excp;

/// <summary>Loads shared/parity/excp (official compress_pythia.py run on synthetic AdamW checkpoints, steps 200 → 250 → 300).</summary>
internal static class ExcpFixture
{
    public static readonly string[] Names = { "blk0.qkv.weight", "blk0.fc1.weight", "blk0.fc2.weight", "blk0.fc1.bias", "head.bias" };

    public static float[] F(string link, string tensor, string file) => Npy.Read(SharedData.Parity("excp", link, tensor, file + ".npy")).ToFloat();
    public static long[] I(string link, string tensor, string file) => Npy.Read(SharedData.Parity("excp", link, tensor, file + ".npy")).ToInt64();
    public static long[] Shape(string link, string tensor, string file) => Npy.Read(SharedData.Parity("excp", link, tensor, file + ".npy")).Shape;
    public static bool Exists(string link, string tensor, string file) => File.Exists(SharedData.Parity("excp", link, tensor, file + ".npy"));

    public static JsonElement Json => Doc.Value.RootElement;
    private static readonly Lazy<JsonDocument> Doc = new(() => SharedData.Fixture("excp", "fixture.json"));

    public static JsonElement TensorJson(string link, string tensor) =>
        Json.GetProperty("links").GetProperty(link).GetProperty("tensors").EnumerateArray().First(t => t.GetProperty("name").GetString() == tensor);

    /// <summary>The raw step-200 base: weights w_prev; its moments do not enter link 1 (zeros), its step does (official recon inherits it).</summary>
    public static TrainingCheckpoint Base() => new(200, Names.Select(n =>
    {
        var w = F("link1", n, "w_prev");
        return new CheckpointParameter(n, Shape("link1", n, "w_prev"), w, new AdamState(new float[w.Length], new float[w.Length], 200));
    }), new AdamHyperParameters(3e-4, 0.9, 0.95, 1e-8, 0.1, true));

    /// <summary>The raw current checkpoint of a link (step 250 for link1, 300 for link2).</summary>
    public static TrainingCheckpoint Current(string link) => new(link == "link1" ? 250 : 300, Names.Select(n =>
        new CheckpointParameter(n, Shape(link, n, "w_curr"), F(link, n, "w_curr"),
            new AdamState(F(link, n, "exp_avg"), F(link, n, "exp_avg_sq"), link == "link1" ? 250 : 300))),
        new AdamHyperParameters(3e-4, 0.9, 0.95, 1e-8, 0.1, true));

    public static readonly ExcpOptions Official = new() { OfficialCompatibility = true };
}
