namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// Declares a numeric option property's default sweep range (ML.NET AutoML's <c>[Range]</c>):
/// <see cref="SearchSpace{TOptions}.FromAttributes"/> turns it into a <see cref="RangeParameter"/>.
/// Integer properties get integer values (bounds must then be whole numbers).
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class SweepRangeAttribute : Attribute
{
    /// <summary>Creates a range [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public SweepRangeAttribute(double min, double max) { Min = min; Max = max; }

    /// <summary>Lower bound (inclusive).</summary>
    public double Min { get; }
    /// <summary>Upper bound (inclusive).</summary>
    public double Max { get; }
    /// <summary>Sample log-uniformly and space grid points geometrically (bounds must be positive). Default false.</summary>
    public bool LogBase { get; set; }
    /// <summary>Points a grid search takes from the range (end points included). Default 5.</summary>
    public int GridPoints { get; set; } = RangeParameter.DefaultGridPoints;
}

/// <summary>
/// Declares an option property's default sweep values (ML.NET AutoML's <c>[Choice]</c>):
/// <see cref="SearchSpace{TOptions}.FromAttributes"/> turns it into a <see cref="ChoiceParameter"/>. Values must
/// fit the property's type (numbers convert when exact, enum names convert to the enum).
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class SweepChoiceAttribute : Attribute
{
    /// <summary>Creates a choice among <paramref name="values"/> (in this order for a grid).</summary>
    public SweepChoiceAttribute(params object[] values) => Values = values;

    /// <summary>The candidate values.</summary>
    public object[] Values { get; }
    /// <summary>Plot the (numeric, positive) values on a logarithmic axis. Default false.</summary>
    public bool LogScale { get; set; }
}
