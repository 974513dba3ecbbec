namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// One setting of the swept parameters: values by parameter name, in the search space's order. Two sets are equal
/// when their names and invariant text forms are equal (how resume matches CSV rows to settings).
/// </summary>
public sealed class ParameterSet : IEquatable<ParameterSet>
{
    private readonly (string Name, object? Value)[] _values;

    /// <summary>Creates a set from (name, value) pairs.</summary>
    public ParameterSet(IEnumerable<(string Name, object? Value)> values)
    {
        _values = values.ToArray();
        var dup = _values.GroupBy(v => v.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"Parameter '{dup.Key}' appears twice in a parameter set.", nameof(values));
        Key = string.Join(", ", _values.Select(v => $"{v.Name}={SweepValues.Format(v.Value)}"));
    }

    /// <summary>Parameter names in order.</summary>
    public IReadOnlyList<string> Names => _values.Select(v => v.Name).ToArray();
    /// <summary>Number of parameters.</summary>
    public int Count => _values.Length;
    /// <summary>(name, value) pairs in order.</summary>
    public IEnumerable<(string Name, object? Value)> Items => _values;
    /// <summary>Invariant text form, e.g. <c>LearningRate=0.001, BatchSize=32</c>.</summary>
    public string Key { get; }

    /// <summary>The value of <paramref name="name"/>.</summary>
    public object? this[string name] => TryGet(name, out var v) ? v
        : throw new KeyNotFoundException($"The parameter set has no parameter '{name}' (it has: {string.Join(", ", Names)}).");

    /// <summary>The value of <paramref name="name"/>, typed.</summary>
    public T Get<T>(string name) => (T)this[name]!;

    /// <summary>Looks a value up by name.</summary>
    public bool TryGet(string name, out object? value)
    {
        foreach (var (n, v) in _values) if (n == name) { value = v; return true; }
        value = null;
        return false;
    }

    /// <inheritdoc/>
    public bool Equals(ParameterSet? other) => other != null && other.Key == Key;
    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ParameterSet);
    /// <inheritdoc/>
    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);
    /// <inheritdoc/>
    public override string ToString() => Key.Length == 0 ? "(defaults)" : Key;
}
