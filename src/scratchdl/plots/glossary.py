"""The Korean terms scratchdl uses, following the Korean edition of the book
(밑바닥부터 시작하는 딥러닝): one term per idea, in figures, summaries, notebooks and docs.

:data:`TERMS` maps each English term to its Korean one; :data:`FORBIDDEN` lists variants that
drift from it (정규화 for regularization, "시드 잡음", 에포크 ...), each with the term to use
instead. ``tests/test_korean.py`` checks that README.ko.md, docs/ko/*.md, the Korean notebooks
and the Korean figure and summary texts never use a forbidden variant.
"""

from __future__ import annotations

import re

__all__ = ["FORBIDDEN", "TERMS", "forbidden_in"]

#: English term -> the Korean edition's term.
TERMS: dict[str, str] = {
    "normalization": "정규화",
    "batch normalization": "배치 정규화",
    "regularization": "규제",
    "weight decay": "가중치 감소",
    "dropout": "드롭아웃",
    "overfitting": "오버피팅",
    "learning rate": "학습률",
    "epoch": "에폭",
    "iteration": "반복",
    "mini-batch": "미니배치",
    "batch": "배치",
    "loss": "손실",
    "loss function": "손실 함수",
    "accuracy": "정확도",
    "gradient": "기울기",
    "gradient descent": "경사 하강법",
    "numerical differentiation": "수치 미분",
    "backpropagation": "오차역전파법",
    "activation": "활성화",
    "activation function": "활성화 함수",
    "step function": "계단 함수",
    "sigmoid": "시그모이드",
    "softmax": "소프트맥스",
    "perceptron": "퍼셉트론",
    "initial weights": "가중치 초깃값",
    "weight": "가중치",
    "hidden layer": "은닉층",
    "optimizer": "옵티마이저",
    "train": "훈련",
    "test": "시험",
    "hyperparameter": "하이퍼파라미터",
    "convolution": "합성곱",
    "filter": "필터",
    "feature map": "특징 맵",
    "pooling": "풀링",
    "padding": "패딩",
    "stride": "스트라이드",
    "data augmentation": "데이터 확장",
    "deep learning": "딥러닝",
    "receptive field": "수용 영역",
    "chance": "무작위 추측",
    "seed noise": "시드에 따른 편차",
    "mean": "평균",
    "standard deviation": "표준편차",
    # The second book (밑바닥부터 시작하는 딥러닝 2), in its Korean edition's terms.
    "corpus": "말뭉치",
    "co-occurrence matrix": "동시발생 행렬",
    "cosine similarity": "코사인 유사도",
    "distributed representation": "분산 표현",
    "singular value decomposition": "특잇값분해",
    "context": "맥락",
    "target": "타깃",
    "negative sampling": "네거티브 샘플링",
    "recurrent neural network": "순환 신경망",
    "hidden state": "은닉 상태",
    "language model": "언어 모델",
    "perplexity": "퍼플렉서티",
    "exploding gradients": "기울기 폭발",
    "vanishing gradients": "기울기 소실",
    "gradient clipping": "기울기 클리핑",
    "memory cell": "기억 셀",
    "gate": "게이트",
    "encoder": "인코더",
    "decoder": "디코더",
    "peeky": "엿보기",
    "attention": "어텐션",
}

#: (pattern, the term to use instead): variants that must not appear in Korean text.
FORBIDDEN: tuple[tuple[str, str], ...] = (
    (r"시드\s*(잡음|노이즈)", "시드에 따른 편차 (seed noise)"),
    (r"L[12]\s*정규화", "L2 규제 (regularization)"),
    (r"정규화\s*(항|기법|효과\s*\(regulari)", "규제 항/기법 (regularization)"),
    (r"정규화\s*\(\s*regulari", "규제 (regularization)"),
    (r"에포크", "에폭 (epoch)"),
    (r"학습율|러닝\s*레이트", "학습률 (learning rate)"),
    (r"그래디언트|그레이디언트", "기울기 (gradient)"),
    (r"과적합|과대적합", "오버피팅 (overfitting)"),
    (r"초기값", "초깃값 (initial value)"),
    (r"미니\s+배치", "미니배치 (mini-batch)"),
    (r"이터레이션", "반복 (iteration)"),
    (r"드랍아웃|드롭\s+아웃", "드롭아웃 (dropout)"),
    (r"(?<!오차)역전파법", "오차역전파법 (backpropagation)"),
    (r"데이터\s*(증강|증식|확대)", "데이터 확장 (data augmentation)"),
)

_COMPILED = tuple((re.compile(p), use) for p, use in FORBIDDEN)


def forbidden_in(text: str) -> list[tuple[str, str]]:
    """The forbidden variants found in ``text``: ``(what was found, the term to use)``."""
    return [(m.group(0), use) for pattern, use in _COMPILED for m in pattern.finditer(text)]
