using System.Linq.Expressions;
using System.Reflection;

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// The option properties a sweep tunes and their candidate values (ML.NET AutoML's search space, small): built
/// fluently (<c>.Range(o =&gt; o.LearningRate, 1e-4, 1e-2, logBase: true).Choice(o =&gt; o.BatchSize, 16, 32, 64)</c>)
/// or from <see cref="SweepRangeAttribute"/>/<see cref="SweepChoiceAttribute"/> on the properties
/// (<see cref="FromAttributes"/>). Every call checks at once that the property exists, is writable and that the values
/// fit its type. Defining a property again replaces its earlier definition in place (so attribute defaults can be
/// narrowed).
/// </summary>
/// <typeparam name="TOptions">The options class whose properties are swept.</typeparam>
public sealed class SearchSpace<TOptions> where TOptions : class
{
    private readonly List<SweepParameter> _parameters = new();

    /// <summary>The swept parameters, in declaration order (the grid's order: first slowest).</summary>
    public IReadOnlyList<SweepParameter> Parameters => _parameters;

    /// <summary>A space from the <see cref="SweepRangeAttribute"/>/<see cref="SweepChoiceAttribute"/> of <typeparamref name="TOptions"/>'s properties, base class first.</summary>
    public static SearchSpace<TOptions> FromAttributes()
    {
        var space = new SearchSpace<TOptions>();
        var props = typeof(TOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .OrderBy(p => Depth(p.DeclaringType!)).ThenBy(p => p.MetadataToken);
        foreach (var p in props)
        {
            var range = p.GetCustomAttribute<SweepRangeAttribute>(inherit: true);
            var choice = p.GetCustomAttribute<SweepChoiceAttribute>(inherit: true);
            if (range != null && choice != null)
                throw new ArgumentException($"Property '{p.Name}' of {typeof(TOptions).Name} has both [SweepRange] and [SweepChoice]; keep one.", p.Name);
            if (range != null) space.Add(new RangeParameter(SweepProperty.Resolve(typeof(TOptions), p.Name), range.Min, range.Max, range.LogBase, range.GridPoints));
            else if (choice != null) space.Add(new ChoiceParameter(SweepProperty.Resolve(typeof(TOptions), p.Name), choice.Values, choice.LogScale));
        }
        return space;
    }

    /// <summary>Sweeps a numeric property over [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <param name="property">The property, e.g. <c>o =&gt; o.LearningRate</c>.</param>
    /// <param name="min">Lower bound (inclusive).</param>
    /// <param name="max">Upper bound (inclusive).</param>
    /// <param name="logBase">Log-uniform sampling and a geometric grid (bounds must be positive).</param>
    /// <param name="gridPoints">Points a grid search takes (end points included). Default 5.</param>
    public SearchSpace<TOptions> Range<TValue>(Expression<Func<TOptions, TValue>> property, double min, double max, bool logBase = false, int gridPoints = RangeParameter.DefaultGridPoints) =>
        Add(new RangeParameter(SweepProperty.Resolve(property), min, max, logBase, gridPoints));

    /// <summary>Sweeps the property named <paramref name="propertyName"/> over a range (see the typed overload).</summary>
    public SearchSpace<TOptions> Range(string propertyName, double min, double max, bool logBase = false, int gridPoints = RangeParameter.DefaultGridPoints) =>
        Add(new RangeParameter(SweepProperty.Resolve(typeof(TOptions), propertyName), min, max, logBase, gridPoints));

    /// <summary>Sweeps a property over the listed values (numbers, enums, strings, booleans).</summary>
    public SearchSpace<TOptions> Choice<TValue>(Expression<Func<TOptions, TValue>> property, params TValue[] values) =>
        Add(new ChoiceParameter(SweepProperty.Resolve(property), values.Cast<object?>(), logScale: false));

    /// <summary>Sweeps the property named <paramref name="propertyName"/> over the listed values; each must fit its type.</summary>
    public SearchSpace<TOptions> Choice(string propertyName, params object?[] values) =>
        Add(new ChoiceParameter(SweepProperty.Resolve(typeof(TOptions), propertyName), values, logScale: false));

    /// <summary>
    /// Sweeps a property over explicit grid values, e.g. <c>.Values(o =&gt; o.LearningRate, new[] { 1e-4, 1e-3, 1e-2 }, logBase: true)</c>;
    /// <paramref name="logBase"/> only marks the values for a log x-axis in plots.
    /// </summary>
    public SearchSpace<TOptions> Values<TValue>(Expression<Func<TOptions, TValue>> property, IEnumerable<TValue> values, bool logBase = false) =>
        Add(new ChoiceParameter(SweepProperty.Resolve(property), (values ?? throw new ArgumentNullException(nameof(values))).Cast<object?>(), logBase));

    /// <summary>Removes a property from the space (e.g. one that <see cref="FromAttributes"/> added); no-op if absent.</summary>
    public SearchSpace<TOptions> Without<TValue>(Expression<Func<TOptions, TValue>> property)
    {
        var name = SweepProperty.Resolve(property).Name;
        _parameters.RemoveAll(p => p.Name == name);
        return this;
    }

    /// <summary>Sets <paramref name="parameters"/> on <paramref name="options"/>; each name must belong to this space.</summary>
    public void Apply(TOptions options, ParameterSet parameters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var (name, value) in parameters.Items)
        {
            var p = _parameters.FirstOrDefault(q => q.Name == name)
                ?? throw new ArgumentException($"Parameter '{name}' is not part of this search space ({string.Join(", ", _parameters.Select(q => q.Name))}).", nameof(parameters));
            p.Apply(options, SweepValues.Convert(value, p.ValueType, name));
        }
    }

    /// <summary>One line per parameter.</summary>
    public string Describe() => _parameters.Count == 0 ? "(empty search space: the defaults only)" : string.Join(Environment.NewLine, _parameters.Select(p => p.Describe()));

    /// <inheritdoc/>
    public override string ToString() => Describe();

    private SearchSpace<TOptions> Add(SweepParameter p)
    {
        int i = _parameters.FindIndex(q => q.Name == p.Name);
        if (i >= 0) _parameters[i] = p; else _parameters.Add(p);
        return this;
    }

    private static int Depth(Type t) { int d = 0; for (var b = t; b != null; b = b.BaseType) d++; return d; }
}
