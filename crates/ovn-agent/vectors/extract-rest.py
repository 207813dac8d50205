#!/usr/bin/env python3
# Writes upstream-rest/*.txt: the cases of OVN's tests/ovn.at (the file given,
# from ovn-org/ovn at tag v23.03.1) that the copied vectors leave out (index 3
# mod 4 in their block), after checking that the other three quarters are the
# copied ones. Usage: extract-rest.py path/to/ovn/tests/ovn.at
import re, sys
import os
at=open(sys.argv[1]).read().split('\n')
HERE=os.path.dirname(os.path.abspath(__file__))
V=HERE+'/'
OUT=HERE+'/upstream-rest/'
def find(setup):
    for i,l in enumerate(at):
        if l.startswith('AT_SETUP(['+setup+'])'): return i
    raise Exception(setup)
def data_block(setup):
    i=find(setup)
    while 'AT_DATA([test-cases.txt]' not in at[i]: i+=1
    head = at[i].rstrip()
    if head.endswith(','):
        # The quoted text starts on the next line, after its brackets.
        i+=1
        literal = at[i].startswith('[[')
        at[i] = at[i][2:] if literal else at[i][1:]
        i-=1
    else:
        literal = head.endswith('[[')
    end = ']])' if literal else '])'
    out=[]; i+=1
    while at[i]!=end: out.append(at[i]); i+=1
    if not literal:
        out=[re.sub(r'dnl.*$','',l).replace('[[','[').replace(']]',']') for l in out]
    return [quad(l) for l in out]
def quad(l):
    return l.replace('@<:@','[').replace('@:>@',']').replace('@S|@','$').replace('@%:@','#').replace('@&t@','')
def split(l):
    return l.split(' =>')[0], (l.split(' => ')[-1] if ' => ' in l else l)
def line_file(name, setup):
    cases=[c for c in data_block(setup) if c.strip() and not c.startswith('#')]
    shared=[l for l in open(V+name+'.txt').read().split('\n') if l.strip() and not l.startswith('#')]
    mine=[c for i,c in enumerate(cases) if i%4!=3]
    assert [split(a) for a in shared]==[split(b) for b in mine], name
    rest=[c for i,c in enumerate(cases) if i%4==3]
    hdr='# the cases of OVN v23.03.1 tests/ovn.at, AT_SETUP: %s, whose index in the block is 3 mod 4\n' % setup
    open(OUT+name+'.txt','w').write(hdr+'\n'.join(rest)+'\n')
    print(name, len(cases), len(rest))
def symtab_file(name, setup):
    i=find(setup)+1
    assert at[i].startswith('AT_CHECK(')
    i+=1
    lines=[at[i][2:]] ; i+=1
    while not at[i].startswith(']])'): lines.append(at[i]); i+=1
    shared=[l for l in open(V+name+'.txt').read().split('\n') if l.strip() and not l.startswith('#')]
    mine=[c for k,c in enumerate(lines) if k%4!=3]
    assert shared==mine, (name, shared, mine)
    rest=[c for k,c in enumerate(lines) if k%4==3]
    hdr='# the lines of OVN v23.03.1 tests/ovn.at, AT_SETUP: %s, whose index in the block is 3 mod 4\n' % setup
    open(OUT+name+'.txt','w').write(hdr+'\n'.join(rest)+'\n')
    print(name, len(lines), len(rest))
line_file('lexer','lexer')
line_file('expr','expression parser')
line_file('annotate','expression annotation')
symtab_file('registers','registers')
symtab_file('conntrack-fields','conntrack fields')

def checks(setup):
    """(input, expected lines) of each AT_CHECK of a block."""
    i=find(setup)+1
    lflow=None; out=[]
    while not at[i].startswith('AT_CLEANUP'):
        l=at[i]
        if l.startswith('lflow="'):
            text=l[len('lflow="'):]
            while text.endswith('\\'):
                i+=1; text=text[:-1]+at[i]
            lflow=text[:-1] if text.endswith('"') else text
        if l.startswith('AT_CHECK(['):
            call=l
            while not (call.endswith('])') and call.count('[')-call.count(']')==0):
                i+=1; call+='\n'+at[i]
            head, rest = call.split('], [0],',1)
            if '"$lflow"' in head: inp=lflow
            else: inp=head[head.index("'")+1:head.rindex("'")]
            rest=rest.lstrip(' \n')[:-1]  # drop the final ')'
            if rest.startswith('[['):
                body=rest[2:-2]
            else:
                body=rest[1:-1]
                body=re.sub(r'dnl\n','',body).replace('[[','[').replace(']]',']')
            body=quad(body)
            lines=body.split('\n')
            if lines and lines[-1]=='': lines=lines[:-1]
            out.append((quad(inp), [x.strip() if x.startswith('    ') else x for x in lines]))
        i+=1
    return out

def read_blocks(path):
    cases=[]
    for l in open(path).read().split('\n'):
        if l.startswith('#') or not l.strip(): continue
        if l.startswith('    '):
            x=l[4:]; cases[-1][1].append('' if x=='""' else x)
        else: cases.append((l,[]))
    return cases

def block_file(name, setups):
    allc=[]; rest=[]; mine=[]
    for s in setups:
        allc+=[(s,c) for c in checks(s)]
    # The index runs over the file's blocks together.
    mine=[c for k,c in enumerate(allc) if k%4!=3]
    rest=[c for k,c in enumerate(allc) if k%4==3]
    shared=read_blocks(V+name+'.txt')
    assert len(shared)==len(mine), (name, len(shared), len(mine))
    for a,(s,b) in zip(shared,mine):
        assert a[0]==b[0] and sorted(a[1])==sorted(b[1]), (name, a, b)
    text='# the cases of OVN v23.03.1 tests/ovn.at whose index in their block is 3 mod 4\n'
    for s,(inp,exp) in rest:
        text+='# [%s]\n%s\n' % (s, inp) + ''.join('    %s\n' % (x if x else '""') for x in exp) + '\n'
    open(OUT+name+'.txt','w').write(text)
    print(name, len(mine)+len(rest), len(rest))

block_file('simplify', ['simplification special cases', 'is_chassis_resident simplification'])
block_file('expr-to-flows', ['converting expressions to flows -- string fields', 'converting expressions to flows -- address sets', 'converting expressions to flows -- port groups'])
block_file('conjunction', ['converting expressions to flows -- conjunction'])

def actions_file():
    lines=data_block('action parsing')
    cases=[]
    for l in lines:
        if not l.strip() or l.startswith('#'): continue
        if l.startswith('    '): cases[-1][1].append(l[4:])
        elif l[0] in ' \t': continue
        else: cases.append((l,[]))
    shared=read_blocks(V+'actions.txt')
    mine=[c for k,c in enumerate(cases) if k%4!=3]
    assert len(shared)==len(mine), ('actions', len(shared), len(mine))
    for a,b in zip(shared,mine):
        assert a[0]==b[0] and a[1]==b[1], ('actions', a, b)
    rest=[c for k,c in enumerate(cases) if k%4==3]
    text='# the cases of OVN v23.03.1 tests/ovn.at, AT_SETUP: action parsing, whose index in the block is 3 mod 4\n'
    for inp,exp in rest:
        text+=inp+'\n'+''.join('    %s\n' % x for x in exp)+'\n'
    open(OUT+'actions.txt','w').write(text)
    print('actions', len(cases), len(rest))

actions_file()
