using System.Globalization;

namespace MLNetExtensions.Core.Tuning;

/// <summary>Conversion of candidate values to a property's type and their culture-invariant text form (CSV, tables).</summary>
internal static class SweepValues
{
    private static readonly HashSet<Type> IntegerTypes = new() { typeof(int), typeof(long), typeof(short), typeof(byte), typeof(uint), typeof(ulong), typeof(ushort), typeof(sbyte) };
    private static readonly HashSet<Type> RealTypes = new() { typeof(double), typeof(float), typeof(decimal) };

    public static Type Underlying(Type t) => Nullable.GetUnderlyingType(t) ?? t;
    public static bool IsInteger(Type t) => IntegerTypes.Contains(Underlying(t));
    public static bool IsNumeric(Type t) => IsInteger(t) || RealTypes.Contains(Underlying(t));

    /// <summary>Converts <paramref name="value"/> to <paramref name="propertyType"/>, or throws naming the property.</summary>
    public static object? Convert(object? value, Type propertyType, string property)
    {
        var target = Underlying(propertyType);
        if (value == null)
        {
            if (!propertyType.IsValueType || Nullable.GetUnderlyingType(propertyType) != null) return null;
            throw Misfit(value, propertyType, property, "null only fits a nullable or reference type");
        }
        var vt = value.GetType();
        if (target.IsAssignableFrom(vt)) return value;
        if (target.IsEnum)
        {
            if (value is string s && Enum.GetNames(target).Contains(s)) return Enum.Parse(target, s);
            if (IsInteger(vt)) { var e = Enum.ToObject(target, value); if (Enum.IsDefined(target, e)) return e; }
            throw Misfit(value, propertyType, property, $"expected one of {string.Join(", ", Enum.GetNames(target))}");
        }
        if (IsNumeric(target) && IsNumeric(vt) && !vt.IsEnum)
        {
            var d = System.Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (IsInteger(target) && (d != Math.Floor(d) || double.IsInfinity(d)))
                throw Misfit(value, propertyType, property, "an integer property needs whole numbers");
            try { return System.Convert.ChangeType(value, target, CultureInfo.InvariantCulture); }
            catch (OverflowException) { throw Misfit(value, propertyType, property, "out of the type's range"); }
        }
        throw Misfit(value, propertyType, property, null);
    }

    private static ArgumentException Misfit(object? value, Type type, string property, string? why) =>
        new($"Sweep value {Format(value)} ({value?.GetType().Name ?? "null"}) does not fit property '{property}' of type {TypeName(type)}" +
            (why == null ? "." : $": {why}."), property);

    public static string TypeName(Type t) => Nullable.GetUnderlyingType(t) is { } u ? u.Name + "?" : t.Name;

    /// <summary>Culture-invariant, round-trippable text of a value (doubles with "R"; null as the empty string).</summary>
    public static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Short display form for tables (4 significant digits for reals).</summary>
    public static string Display(object? value) => value switch
    {
        double d => d.ToString("G4", CultureInfo.InvariantCulture),
        float f => f.ToString("G4", CultureInfo.InvariantCulture),
        _ => Format(value),
    };

    public static double ToDouble(object? value) => value == null || value is Enum || !IsNumeric(value.GetType())
        ? double.NaN : System.Convert.ToDouble(value, CultureInfo.InvariantCulture);

    /// <summary>Rounds to 12 significant digits so grid points read 0.001 rather than 0.0010000000000000002.</summary>
    public static double Clean(double v) => v == 0 || !double.IsFinite(v) ? v : double.Parse(v.ToString("G12", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
