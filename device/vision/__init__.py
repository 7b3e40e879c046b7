"""The per-frame path: camera sources, face detector, landmark model, the 68-point map,
regions and organs, alignment, head pose, quality gate and per-frame features. Pure
functions on one frame wherever possible; nothing here touches disk or the network."""
