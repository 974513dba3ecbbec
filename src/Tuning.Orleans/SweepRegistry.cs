using MLNetExtensions.Core.Tuning;

namespace MLNetExtensions.Tuning.Orleans;

/// <summary>
/// The sweeps a worker can run, by name: each name maps to a factory that builds the same sweep definition the
/// coordinator builds (the application's own code), so requests carry only indices, seeds and parameter text.
/// </summary>
public sealed class SweepRegistry
{
    private readonly Dictionary<string, Func<IServiceProvider, ISweepTrialRunner>> _factories = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ISweepTrialRunner> _built = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    internal static SweepRegistry From(IEnumerable<SweepRegistration> registrations)
    {
        var registry = new SweepRegistry();
        foreach (var r in registrations) registry.Add(r.Name, r.Factory);
        return registry;
    }

    /// <summary>Registers (or replaces) the sweep <paramref name="name"/>; the factory runs once, at the first trial.</summary>
    public SweepRegistry Add(string name, Func<IServiceProvider, ISweepTrialRunner> factory)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A sweep name must not be empty.", nameof(name));
        ArgumentNullException.ThrowIfNull(factory);
        lock (_gate) { _factories[name] = factory; _built.Remove(name); }
        return this;
    }

    /// <summary>The registered names, sorted.</summary>
    public string[] Names { get { lock (_gate) return _factories.Keys.Order(StringComparer.Ordinal).ToArray(); } }

    internal ISweepTrialRunner? Get(string name, IServiceProvider services)
    {
        lock (_gate)
        {
            if (_built.TryGetValue(name, out var runner)) return runner;
            if (!_factories.TryGetValue(name, out var factory)) return null;
            runner = factory(services) ?? throw new InvalidOperationException($"The factory of sweep '{name}' returned null.");
            _built[name] = runner;
            return runner;
        }
    }
}
