namespace MLNetExtensions.Transforms.AlignKd;

// The option kinds of the Align-KD objective (note §2.7 table). Kept together: they only mean something as a set.

/// <summary>Logit-distillation divergence.</summary>
public enum KdDivergence
{
    /// <summary>The released code: −Σ p_T log p_S (= KL(p_T‖p_S) + H(p_T); the forward-KL gradient).</summary>
    ForwardKl,
    /// <summary>The paper figure's L_RKLD: Σ p_S (log p_S − log p_T).</summary>
    ReverseKl,
}

/// <summary>Which positions the logit distillation averages over (padding never counts).</summary>
public enum KdPositions
{
    /// <summary>Every real position: BOS, vision, question, answer (the code).</summary>
    AllPositions,
    /// <summary>Only the positions whose next token is supervised (the answer).</summary>
    ResponseOnly,
}

/// <summary>Which block of the layer-0 attention is distilled.</summary>
public enum AttentionBlock
{
    /// <summary>Text queries × vision keys (the paper's A_{t−v}; the default).</summary>
    TextQueryVisionKey,
    /// <summary>Vision queries × text keys: what the released code's mask selects. Causal masking makes every entry
    /// 0 in both models, so the loss is the constant mean(c_a²) with zero gradient (note §2.6 item 1).</summary>
    VisionQueryTextKey,
}

/// <summary>How the squared attention differences are reduced.</summary>
public enum AttentionReduction
{
    /// <summary>Sum over the selected keys, mean over (batch, head, selected query rows) — note §5, §6.9.</summary>
    SumOverKeysMeanOverRows,
    /// <summary>Plain mean over all selected entries (the code's scale).</summary>
    MeanOverEntries,
}

/// <summary>How teacher and student heads are matched in L_att.</summary>
public enum HeadAdapter
{
    /// <summary>Parameter-free: both head-means are compared.</summary>
    HeadMean,
    /// <summary>A learnable student-side 1×1 map H_S → H_T (predicts the teacher's heads from the student's).</summary>
    Learnable,
    /// <summary>The official teacher-side 1×1 conv H_T → H_S with bias, frozen at its random initialisation (never in
    /// the optimizer, as in the released code).</summary>
    TeacherConvFrozen,
}

/// <summary>How teacher and student projected vision tokens are matched in L_V.</summary>
public enum ProjectionAdapter
{
    /// <summary>A learnable student-side Linear D_S → D_T (‖W·Z^S + b − Z^T‖²; the note's recommended form).</summary>
    Learnable,
    /// <summary>The official teacher-side Linear D_T → D_S, frozen at its random initialisation.</summary>
    TeacherFrozenRandom,
}

/// <summary>Which query rows score the focus tokens.</summary>
public enum FocusRows
{
    /// <summary>Text rows after the image (the paper's intent).</summary>
    TextRows,
    /// <summary>Every real query row (the code's column sums, restricted to the vision columns at their true
    /// positions; the code's fixed −2 offset and wrap-around are not reproduced).</summary>
    AllRows,
}
