using System.Linq.Expressions;
using System.Reflection;

namespace MLNetExtensions.Core.Tuning;

/// <summary>
/// A writable public property of an options type, with a setter compiled once (a sweep sets it on every trial's
/// fresh options object). Construction checks that the property exists and is writable, naming it otherwise.
/// </summary>
internal sealed class SweepProperty
{
    private SweepProperty(PropertyInfo property, Action<object, object?> setter)
    {
        Info = property;
        Setter = setter;
    }

    public PropertyInfo Info { get; }
    public string Name => Info.Name;
    public Type Type => Info.PropertyType;
    public Action<object, object?> Setter { get; }

    /// <summary>Resolves a property by name on <paramref name="optionsType"/> (the most derived declaration wins).</summary>
    public static SweepProperty Resolve(Type optionsType, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var candidates = optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.Name == name).ToList();
        if (candidates.Count == 0)
            throw new ArgumentException($"{optionsType.Name} has no public property '{name}' to sweep. Public properties: " +
                string.Join(", ", optionsType.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).OrderBy(n => n)) + ".", nameof(name));
        // A 'new' redeclaration hides the base property: take the most derived one.
        var prop = candidates.OrderByDescending(p => Depth(p.DeclaringType!)).First();
        return From(optionsType, prop);
    }

    /// <summary>Resolves the property a selector such as <c>o =&gt; o.LearningRate</c> names.</summary>
    public static SweepProperty Resolve(LambdaExpression selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var body = selector.Body;
        while (body is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u) body = u.Operand;
        if (body is not MemberExpression { Member: PropertyInfo prop } m || m.Expression != selector.Parameters[0])
            throw new ArgumentException($"The selector '{selector}' must name a property of the options directly, like o => o.LearningRate.", nameof(selector));
        var optionsType = selector.Parameters[0].Type;
        // The expression may carry the base declaration; re-resolve on the options type so 'new' properties bind right.
        return Resolve(optionsType, prop.Name);
    }

    private static SweepProperty From(Type optionsType, PropertyInfo prop)
    {
        if (prop.GetIndexParameters().Length > 0)
            throw new ArgumentException($"Property '{prop.Name}' of {optionsType.Name} is an indexer and cannot be swept.", prop.Name);
        if (prop.SetMethod is not { IsPublic: true })
            throw new ArgumentException($"Property '{prop.Name}' of {optionsType.Name} is read-only (no public setter); a sweep sets the properties it tunes.", prop.Name);
        var target = Expression.Parameter(typeof(object), "options");
        var value = Expression.Parameter(typeof(object), "value");
        // Unboxes to the property type (a boxed int unboxes to int? as well).
        var assign = Expression.Assign(Expression.Property(Expression.Convert(target, prop.DeclaringType!), prop), Expression.Convert(value, prop.PropertyType));
        var setter = Expression.Lambda<Action<object, object?>>(assign, target, value).Compile();
        return new SweepProperty(prop, setter);
    }

    private static int Depth(Type t) { int d = 0; for (var b = t; b != null; b = b.BaseType) d++; return d; }
}
