using System.Text.Json;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Models;

/// <summary>
/// Architecture name → network factory, so a saved model can rebuild its network from (name, config, classes) before its
/// weights are loaded. Families register once (<c>mlContext.RegisterMLNetExtensions()</c>; estimators make sure of it).
/// </summary>
public static class TorchModelRegistry
{
    private static readonly Dictionary<string, Func<string, int, TorchNetwork>> Factories = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Registers a single-tensor family from its JSON config.</summary>
    public static void Register(string architecture, Func<string, int, nn.Module<Tensor, Tensor>> factory) =>
        RegisterNetwork(architecture, (json, classes) => TorchNetwork.Single(factory(json, classes)));

    /// <summary>Registers any family (named inputs/outputs) from its JSON config.</summary>
    public static void RegisterNetwork(string architecture, Func<string, int, TorchNetwork> factory)
    {
        lock (Factories) Factories[architecture] = factory;
    }

    /// <summary>Registered names.</summary>
    public static IReadOnlyList<string> Names { get { lock (Factories) return Factories.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList(); } }

    /// <summary>Builds the network of a typed architecture record.</summary>
    public static TorchNetwork Build(IModelArchitecture architecture, int numClasses)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        return BuildNetwork(architecture.ArchitectureName, ConfigJson(architecture), numClasses);
    }

    /// <summary>The JSON a description stores for <paramref name="architecture"/>.</summary>
    public static string ConfigJson(IModelArchitecture architecture) => JsonSerializer.Serialize(architecture, architecture.GetType());

    /// <summary>Builds a network from a saved (name, config JSON, classes).</summary>
    public static TorchNetwork BuildNetwork(string architecture, string configJson, int numClasses)
    {
        Func<string, int, TorchNetwork>? f;
        lock (Factories) Factories.TryGetValue(architecture, out f);
        if (f == null)
            throw new InvalidOperationException($"Unknown architecture '{architecture}'. Call mlContext.RegisterMLNetExtensions() before loading models; known: {string.Join(", ", Names)}.");
        return f(configJson, numClasses);
    }

    /// <summary>Builds a single-tensor network from a saved (name, config JSON, classes).</summary>
    public static nn.Module<Tensor, Tensor> Create(string architecture, string configJson, int numClasses) =>
        BuildNetwork(architecture, configJson, numClasses).AsSingle();
}
