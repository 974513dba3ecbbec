namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// One swept option property: its candidate values (a range or a list) and how tuners draw them. Values are held
/// already converted to the property's type.
/// </summary>
public abstract class SweepParameter
{
    private protected SweepParameter(SweepProperty property) => Property = property;

    internal SweepProperty Property { get; }

    /// <summary>The option property's name (also the CSV column and table header).</summary>
    public string Name => Property.Name;
    /// <summary>The option property's type.</summary>
    public Type ValueType => Property.Type;
    /// <summary>True when values are numbers (so the parameter can be a plot's x-axis).</summary>
    public abstract bool IsNumeric { get; }
    /// <summary>True for log-scaled ranges/values (log-uniform sampling, geometric grid, log x-axis in plots).</summary>
    public abstract bool IsLogScale { get; }
    /// <summary>The values a grid search takes, in order.</summary>
    public abstract IReadOnlyList<object?> GridValues { get; }
    /// <summary>Draws one value (random search).</summary>
    public abstract object? Sample(Random random);
    /// <summary>Human-readable definition, e.g. <c>LearningRate: log range [1E-05, 0.01]</c>.</summary>
    public abstract string Describe();

    /// <summary>Sets <paramref name="value"/> on <paramref name="options"/> through the compiled setter.</summary>
    internal void Apply(object options, object? value) => Property.Setter(options, value);

    /// <inheritdoc/>
    public override string ToString() => Describe();
}

/// <summary>A numeric interval [Min, Max], linear or logarithmic; integer properties take whole numbers.</summary>
public sealed class RangeParameter : SweepParameter
{
    /// <summary>Grid points taken from a range when none is given.</summary>
    public const int DefaultGridPoints = 5;

    internal RangeParameter(SweepProperty property, double min, double max, bool logBase, int gridPoints) : base(property)
    {
        var name = property.Name;
        if (!SweepValues.IsNumeric(property.Type) || SweepValues.Underlying(property.Type).IsEnum)
            throw new ArgumentException($"A range needs a numeric property; '{name}' is {SweepValues.TypeName(property.Type)} (use Choice for other types).", name);
        if (!double.IsFinite(min) || !double.IsFinite(max) || !(min < max))
            throw new ArgumentOutOfRangeException(name, $"Range of '{name}' must have finite Min < Max; got [{min}, {max}].");
        if (logBase && !(min > 0))
            throw new ArgumentOutOfRangeException(name, $"A log range of '{name}' needs Min > 0; got {min}.");
        if (gridPoints < 2)
            throw new ArgumentOutOfRangeException(name, $"A range of '{name}' needs at least 2 grid points; got {gridPoints}.");
        IsInteger = SweepValues.IsInteger(property.Type);
        if (IsInteger && (min != Math.Floor(min) || max != Math.Floor(max)))
            throw new ArgumentOutOfRangeException(name, $"'{name}' is an integer property; its range bounds must be whole numbers, got [{min}, {max}].");
        // Bounds must fit the type (e.g. an int property cannot take 1e12).
        SweepValues.Convert(min, property.Type, name);
        SweepValues.Convert(max, property.Type, name);
        Min = min; Max = max; LogBase = logBase; GridPoints = gridPoints;
        GridValues = BuildGrid();
    }

    /// <summary>Lower bound (inclusive).</summary>
    public double Min { get; }
    /// <summary>Upper bound (inclusive).</summary>
    public double Max { get; }
    /// <summary>Logarithmic range.</summary>
    public bool LogBase { get; }
    /// <summary>Points taken by a grid search (fewer for a narrow integer range, as duplicates are dropped).</summary>
    public int GridPoints { get; }
    /// <summary>True when the property is an integer type.</summary>
    public bool IsInteger { get; }

    /// <inheritdoc/>
    public override bool IsNumeric => true;
    /// <inheritdoc/>
    public override bool IsLogScale => LogBase;
    /// <inheritdoc/>
    public override IReadOnlyList<object?> GridValues { get; }

    /// <inheritdoc/>
    public override object? Sample(Random random)
    {
        double u = random.NextDouble(), v;
        if (IsInteger)
        {
            // Uniform (or log-uniform) over the integer bins [k, k+1): every whole number in [Min, Max] is reachable.
            v = LogBase ? Math.Floor(Math.Exp(Math.Log(Min) + u * (Math.Log(Max + 1) - Math.Log(Min))))
                        : Math.Floor(Min + u * (Max - Min + 1));
            v = Math.Clamp(v, Min, Max);
        }
        else
        {
            v = LogBase ? Math.Exp(Math.Log(Min) + u * (Math.Log(Max) - Math.Log(Min))) : Min + u * (Max - Min);
            v = Math.Clamp(v, Min, Max);
        }
        return SweepValues.Convert(v, ValueType, Name);
    }

    private IReadOnlyList<object?> BuildGrid()
    {
        var values = new List<object?>();
        var seen = new HashSet<string>();
        for (int i = 0; i < GridPoints; i++)
        {
            double t = (double)i / (GridPoints - 1);
            double v = i == 0 ? Min : i == GridPoints - 1 ? Max
                : LogBase ? SweepValues.Clean(Math.Pow(10, Math.Log10(Min) + t * (Math.Log10(Max) - Math.Log10(Min)))) : SweepValues.Clean(Min + t * (Max - Min));
            if (IsInteger) v = Math.Round(v);
            var c = SweepValues.Convert(v, ValueType, Name);
            if (seen.Add(SweepValues.Format(c))) values.Add(c);
        }
        return values;
    }

    /// <inheritdoc/>
    public override string Describe() =>
        $"{Name}: {(LogBase ? "log " : "")}{(IsInteger ? "integer " : "")}range [{SweepValues.Format(Min)}, {SweepValues.Format(Max)}], grid {GridValues.Count} points";
}

/// <summary>A list of candidate values (any type: numbers, enums, strings, booleans, null for nullable properties).</summary>
public sealed class ChoiceParameter : SweepParameter
{
    internal ChoiceParameter(SweepProperty property, IEnumerable<object?> values, bool logScale) : base(property)
    {
        var name = property.Name;
        var list = values?.Select(v => SweepValues.Convert(v, property.Type, name)).ToList()
            ?? throw new ArgumentNullException(name, $"Choice of '{name}' needs values.");
        if (list.Count == 0) throw new ArgumentException($"Choice of '{name}' needs at least one value.", name);
        var dup = list.GroupBy(SweepValues.Format).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"Choice of '{name}' lists the value {dup.Key} twice.", name);
        IsNumeric = SweepValues.IsNumeric(property.Type) && !SweepValues.Underlying(property.Type).IsEnum && list.All(v => v != null);
        if (logScale && !(IsNumeric && list.All(v => SweepValues.ToDouble(v) > 0)))
            throw new ArgumentException($"A log-scaled choice of '{name}' needs positive numbers.", name);
        Values = list;
        IsLogScale = logScale;
    }

    /// <summary>The candidate values, converted to the property's type.</summary>
    public IReadOnlyList<object?> Values { get; }
    /// <inheritdoc/>
    public override bool IsNumeric { get; }
    /// <inheritdoc/>
    public override bool IsLogScale { get; }
    /// <inheritdoc/>
    public override IReadOnlyList<object?> GridValues => Values;
    /// <inheritdoc/>
    public override object? Sample(Random random) => Values[random.Next(Values.Count)];
    /// <inheritdoc/>
    public override string Describe() => $"{Name}: {(IsLogScale ? "log-scaled " : "")}choice {{{string.Join(", ", Values.Select(SweepValues.Format))}}}";
}
