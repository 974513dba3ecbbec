using System.Text;
using MLNetExtensions.Core.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Contract;

/// <summary>
/// Over every registered architecture (<see cref="ArchitectureRegistry"/>): a case exists for each registry family,
/// forward + backward on a tiny input reaches every parameter (each is in the autograd graph), the record round-trips through its JSON, and the
/// state-dict keys and shapes — the official names checkpoints load by — match the committed snapshot, built on the
/// meta device (no weights allocated). Set MLNETEXT_UPDATE_SNAPSHOTS=1 to rewrite the snapshots after a deliberate change.
/// </summary>
[Collection("Contract")]
public class ArchitectureContractTests
{
    private static string SnapshotDir => Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Contract", "Snapshots");

    [Fact]
    public void EveryRegisteredFamilyHasACase()
    {
        _ = ArchitectureRegistry.All; // loads the Transforms assembly, whose initializer registers the families
        var covered = ArchitectureRegistry.All.Select(c => c.Architecture.ArchitectureName).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var missing = TorchModelRegistry.Names.Where(n => !covered.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"registered families without an ArchitectureRegistry case: {string.Join(", ", missing)}");
    }

    [Theory]
    [MemberData(nameof(ArchitectureRegistry.Cases), MemberType = typeof(ArchitectureRegistry))]
    public void ForwardAndBackwardReachEveryParameter(ArchitectureCase c)
    {
        torch.manual_seed(0);
        var net = TorchModelRegistry.Build(c.Architecture, c.Classes);
        using var module = net.Module;
        module.train();
        using var scope = torch.NewDisposeScope();
        var inputs = c.Inputs.ToDictionary(kv => kv.Key, kv => torch.rand(new long[] { 2 }.Concat(kv.Value).ToArray()));
        foreach (var (k, shape) in c.TokenInputs ?? new())
        {
            var full = new long[] { 2 }.Concat(shape).ToArray();
            inputs[k] = k.EndsWith(".mask", StringComparison.Ordinal) ? torch.ones(full, torch.int64) : torch.randint(0, c.Vocab, full, torch.int64);
        }
        var outputs = net.Forward(inputs);
        Assert.NotEmpty(outputs);
        var loss = outputs.Values.Where(t => t.is_floating_point()).Select(t => t.square().mean()).Aggregate((a, b) => a + b);
        Assert.True(double.IsFinite(loss.item<float>()), $"{c.Name}: loss {loss.item<float>()}");
        loss.backward();
        var skip = c.NotInForward ?? Array.Empty<string>();
        var noGrad = module.named_parameters().Where(p => p.parameter.requires_grad && !skip.Any(s => p.name.StartsWith(s, StringComparison.Ordinal)))
            .Where(p => p.parameter.grad is null).Select(p => p.name).ToList(); // a zero gradient is legitimate (e.g. a BatchNorm bias before another norm)
        Assert.True(noGrad.Count == 0, $"{c.Name}: no gradient reaches {noGrad.Count} parameters, e.g. {string.Join(", ", noGrad.Take(5))}");
    }

    [Theory]
    [MemberData(nameof(ArchitectureRegistry.Cases), MemberType = typeof(ArchitectureRegistry))]
    public void StateDictKeysAndShapesMatchTheSnapshot(ArchitectureCase c)
    {
        // The record round-trips through the JSON a model zip stores.
        var json = TorchModelRegistry.ConfigJson(c.Architecture);
        var snapshot = new StringBuilder();
        var previous = torch.get_default_device();
        torch.set_default_device(new Device(DeviceType.META));
        try
        {
            using var module = TorchModelRegistry.BuildNetwork(c.Architecture.ArchitectureName, json, c.Classes).Module;
            foreach (var (k, v) in module.state_dict())
            {
                Assert.Equal(DeviceType.META, v.device_type);
                snapshot.Append(k).Append('\t').Append(string.Join(",", v.shape)).Append('\n');
            }
        }
        finally { torch.set_default_device(previous); }
        var path = Path.Combine(SnapshotDir, c.Name + ".txt");
        if (Environment.GetEnvironmentVariable("MLNETEXT_UPDATE_SNAPSHOTS") == "1") File.WriteAllText(path, snapshot.ToString());
        Assert.True(File.Exists(path), $"no snapshot {path}; write it with MLNETEXT_UPDATE_SNAPSHOTS=1 and review it against the official state dict");
        var expected = File.ReadAllText(path);
        Assert.True(expected == snapshot.ToString(), $"{c.Name}: the state dict differs from {path} (a renamed or reshaped tensor breaks official checkpoints)");
    }
}
