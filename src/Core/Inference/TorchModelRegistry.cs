using static TorchSharp.torch;

namespace MLNetExtensions.Core.Inference;

/// <summary>
/// Architecture name → module factory, so a saved model can rebuild its network from (name, config JSON, classes)
/// before its weights are loaded. Components register their families once (see <c>mlContext.RegisterMLNetExtensions()</c>).
/// </summary>
public static class TorchModelRegistry
{
    private static readonly Dictionary<string, Func<string, int, nn.Module<Tensor, Tensor>>> Factories = new(StringComparer.OrdinalIgnoreCase);

    public static void Register(string architecture, Func<string, int, nn.Module<Tensor, Tensor>> factory)
    {
        lock (Factories) Factories[architecture] = factory;
    }

    public static nn.Module<Tensor, Tensor> Create(string architecture, string configJson, int numClasses)
    {
        Func<string, int, nn.Module<Tensor, Tensor>>? f;
        lock (Factories) Factories.TryGetValue(architecture, out f);
        if (f == null)
            throw new InvalidOperationException($"Unknown architecture '{architecture}'. Call mlContext.RegisterMLNetExtensions() before loading models; known: {string.Join(", ", Factories.Keys)}.");
        return f(configJson, numClasses);
    }
}
