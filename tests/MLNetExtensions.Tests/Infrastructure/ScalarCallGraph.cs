using System.Reflection;
using System.Reflection.Emit;
using TorchSharp;

namespace MLNetExtensions.Tests.Infrastructure;

/// <summary>
/// Finds, from IL, every place where a temporary TorchSharp <see cref="Scalar"/> is created and handed to LibTorch
/// without being kept alive (TorchSharp 0.107: a GC on another thread can finalise it while the native call still
/// reads it). TorchSharp's own methods are scanned transitively (e.g. <c>Tensor.add(Tensor)</c> calls
/// <c>add(target, 1)</c>, <c>softplus(double, double)</c> converts both doubles); project methods are then listed by the
/// calls they make into that set, plus their own double→Scalar conversions that are not stored into a field.
/// </summary>
internal static class ScalarCallGraph
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                     BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>One call instruction: the target and whether the next instruction stores its result into a field.</summary>
    internal readonly record struct Call(MethodBase Target, bool StoredToField);

    /// <summary>Whether <paramref name="m"/> creates a Scalar (conversion, extension or native handle wrapper).</summary>
    internal static bool CreatesScalar(MethodBase m) =>
        (m.DeclaringType == typeof(Scalar) && (m.Name == "op_Implicit" || m is ConstructorInfo)) ||
        (m.Name == "ToScalar" && m.DeclaringType?.Name == "ScalarExtensionMethods");

    /// <summary>Every call made by <paramref name="method"/>'s IL (empty for abstract/extern methods).</summary>
    internal static List<Call> Calls(MethodBase method)
    {
        var calls = new List<Call>();
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); } catch { return calls; }
        if (il == null) return calls;
        var module = method.Module;
        Type[]? typeArgs = method.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null;
        Type[]? methodArgs = method is MethodInfo { IsGenericMethod: true } mi ? mi.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            int size = il[i] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            int operand = OperandSize(op, il, i + size);
            if (op.OperandType == OperandType.InlineMethod)
            {
                int token = BitConverter.ToInt32(il, i + size);
                MethodBase? target = null;
                try { target = module.ResolveMethod(token, typeArgs, methodArgs); } catch { }
                int next = i + size + operand;
                bool stored = next < il.Length && (il[next] == OpCodes.Stfld.Value || il[next] == OpCodes.Stsfld.Value);
                if (target != null) calls.Add(new Call(target, stored));
            }
            i += size + operand;
        }
        return calls;
    }

    private static int OperandSize(OpCode op, byte[] il, int at) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
        _ => 4,
    };

    private static IEnumerable<MethodBase> MethodsOf(Assembly assembly)
    {
        Type[] types;
        try { types = assembly.GetTypes(); } catch (ReflectionTypeLoadException e) { types = e.Types.Where(t => t != null).ToArray()!; }
        foreach (var t in types)
        {
            foreach (var m in t.GetMethods(All)) yield return m;
            foreach (var c in t.GetConstructors(All)) yield return c;
        }
    }

    private static MethodBase Definition(MethodBase m)
    {
        if (m is MethodInfo { IsGenericMethod: true } g && !g.IsGenericMethodDefinition) m = g.GetGenericMethodDefinition();
        if (m.DeclaringType is { IsGenericType: true, IsGenericTypeDefinition: false } dt)
            m = MethodBase.GetMethodFromHandle(m.MethodHandle, dt.GetGenericTypeDefinition().TypeHandle) ?? m;
        return m;
    }

    /// <summary>
    /// TorchSharp methods that create a Scalar and use it inside (directly or through callees), by definition.
    /// Methods whose job is to produce a Scalar for the caller (conversions, <c>Tensor.ToScalar()</c>) are seeds.
    /// </summary>
    internal static HashSet<MethodBase> TorchSharpScalarCreators()
    {
        var asm = typeof(Scalar).Assembly;
        var callers = new Dictionary<MethodBase, List<MethodBase>>();
        var marked = new HashSet<MethodBase>();
        var work = new Queue<MethodBase>();
        foreach (var m in MethodsOf(asm))
        {
            if (m.DeclaringType == typeof(Scalar)) continue; // Scalar's own members consume, not create (except below)
            foreach (var c in Calls(m))
            {
                var target = Definition(c.Target);
                if (CreatesScalar(target))
                {
                    if (marked.Add(m)) work.Enqueue(m);
                }
                else if (target.DeclaringType?.Assembly == asm)
                {
                    if (!callers.TryGetValue(target, out var list)) callers[target] = list = new();
                    list.Add(m);
                }
            }
        }
        while (work.Count > 0)
            if (callers.TryGetValue(work.Dequeue(), out var up))
                foreach (var c in up) if (marked.Add(c)) work.Enqueue(c);
        return marked;
    }

    /// <summary>
    /// TorchSharp types whose virtual overrides (a module's <c>forward</c>, an optimiser's <c>step</c>) create temporary
    /// Scalars: a call through the base type cannot be seen in IL, so making or obtaining such an object is the site.
    /// </summary>
    internal static HashSet<Type> TorchSharpScalarCreatingTypes(HashSet<MethodBase> creators) => creators
        .OfType<MethodInfo>().Where(m => m.IsVirtual && m.GetBaseDefinition() != m && m.DeclaringType != null)
        .Select(m => m.DeclaringType!).ToHashSet();

    /// <summary>One unprotected site in project code: the calling method, the TorchSharp member, how often.</summary>
    internal sealed record Site(string Caller, string Target, int Count);

    /// <summary>
    /// Every call in <paramref name="assemblies"/> that creates an unrooted temporary Scalar: a direct conversion not
    /// stored into a field, or a call into <paramref name="creators"/>. Methods of <paramref name="exempt"/> are skipped
    /// (the rooted helpers themselves).
    /// </summary>
    internal static List<Site> UnrootedSites(IEnumerable<Assembly> assemblies, HashSet<MethodBase> creators, params Type[] exempt)
    {
        var types = TorchSharpScalarCreatingTypes(creators);
        bool MakesCreatingType(MethodBase t) =>
            (t is ConstructorInfo && t.DeclaringType != null && types.Contains(t.DeclaringType)) ||
            (t is MethodInfo mi && t.DeclaringType?.Assembly == typeof(Scalar).Assembly && types.Any(ct => ct.IsAssignableFrom(mi.ReturnType) && mi.ReturnType != typeof(object) &&
                                                   mi.ReturnType.Assembly == typeof(Scalar).Assembly && !mi.ReturnType.IsAbstract));
        var sites = new Dictionary<(string, string), int>();
        foreach (var asm in assemblies)
        foreach (var m in MethodsOf(asm))
        {
            if (exempt.Contains(m.DeclaringType) || (m.DeclaringType?.DeclaringType is { } outer && exempt.Contains(outer))) continue;
            foreach (var c in Calls(m))
            {
                var target = Definition(c.Target);
                // A derived module's base-constructor call: the runtime type (ours) overrides the forward.
                if (target is ConstructorInfo && m is ConstructorInfo && m.DeclaringType!.IsSubclassOf(target.DeclaringType!)) continue;
                bool bad = CreatesScalar(target) ? !c.StoredToField : creators.Contains(target) || MakesCreatingType(target);
                if (!bad) continue;
                var key = (Describe(m), Describe(target));
                sites[key] = sites.GetValueOrDefault(key) + 1;
            }
        }
        return sites.Select(kv => new Site(kv.Key.Item1, kv.Key.Item2, kv.Value))
            .OrderBy(s => s.Caller, StringComparer.Ordinal).ThenBy(s => s.Target, StringComparer.Ordinal).ToList();
    }

    internal static string Describe(MethodBase m)
    {
        var type = m.DeclaringType;
        string typeName = type == null ? "?" : (type.DeclaringType != null ? type.DeclaringType.Name + "." : "") + type.Name;
        // Compiler-generated lambdas and iterators: name the user method they came from.
        typeName = typeName.Replace("<>c__DisplayClass", "λ").Replace("<>c", "λ");
        var ps = string.Join(", ", m.GetParameters().Select(p => p.ParameterType.Name));
        return $"{typeName}.{m.Name}({ps})";
    }
}
